import Foundation
import ITVProtocol
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Answers far larger than the socket buffers arrive whole, however the client ends the connection.
@Suite("Control server: large answers arrive whole")
struct LargeAnswerTests {
    /// About 10 MB of JSON: some fifty times what a Unix socket buffers.
    static let entries = 90_000

    static func bigService() -> FakeControlService {
        let service = FakeControlService()
        service.auditEntries.withLock { $0 = entries }
        return service
    }

    @Test("itvctl (Connection: close) gets a 10 MB answer whole, --json and human")
    func itvctlGetsAll() async throws {
        try await withServer(Self.bigService()) { _, socket in
            let json = try await itvctl(["--json", "audit"], socket: socket)
            #expect(json.status == 0, "\(json.stderr)")
            #expect(json.stdout.utf8.count > 10_000_000, "\(json.stdout.utf8.count) bytes")
            let answer = try ITVJSON.decode(AuditResponse.self, from: Data(json.stdout.utf8))
            #expect(answer.entries.count == Self.entries)
            #expect(answer.entries.last?.id == Int64(Self.entries))
            let human = try await itvctl(["audit"], socket: socket)
            #expect(human.status == 0, "\(human.stderr)")
            #expect(human.stdout.split(separator: "\n").count == Self.entries + 1)
        }
    }

    @Test("a raw client sending Connection: close reads the whole body up to Content-Length, then the end")
    func rawConnectionClose() async throws {
        try await withServer(Self.bigService()) { _, socket in
            let response = try await rawRequest(
                socket, "GET /v1/audit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(response.status == 200)
            #expect(response.headers["connection"] == "close")
            let length = Int(response.headers["content-length"] ?? "") ?? -1
            #expect(length > 10_000_000)
            #expect(response.body.utf8.count == length, "got \(response.body.utf8.count) of \(length) bytes")
            let answer = try ITVJSON.decode(AuditResponse.self, from: Data(response.body.utf8))
            #expect(answer.entries.count == Self.entries)
        }
    }

    @Test("a client that half-closes after its request (shutdown SHUT_WR) still gets the whole answer")
    func halfClose() async throws {
        try await withServer(Self.bigService()) { _, socket in
            let text = try await onThread {
                let client = try RawClient(socket)
                client.send("GET /v1/audit HTTP/1.1\r\nHost: x\r\n\r\n")
                shutdown(client.fd, Int32(SHUT_WR))
                return client.readToEnd()
            }
            let response = try RawResponse(text)
            #expect(response.status == 200)
            let length = Int(response.headers["content-length"] ?? "") ?? -1
            #expect(length > 10_000_000)
            #expect(response.body.utf8.count == length, "got \(response.body.utf8.count) of \(length) bytes")
        }
    }

    @Test("several large answers at once each arrive whole")
    func concurrent() async throws {
        try await withServer(Self.bigService()) { _, socket in
            let sizes = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let r = try await rawRequest(socket, "GET /v1/audit HTTP/1.1\r\nHost: x\r\n\r\n")
                        return (r.body.utf8.count, Int(r.headers["content-length"] ?? "") ?? -1)
                    }
                }
                return try await group.reduce(into: [(Int, Int)]()) { $0.append($1) }
            }
            #expect(sizes.count == 4)
            for (got, announced) in sizes { #expect(got == announced && got > 10_000_000, "\(got) of \(announced)") }
        }
    }
}
