import Foundation
import ITVProtocol
import Testing

@Suite("Request bounds: comments, reasons and names are bounded for every route")
struct RequestBoundsTests {
    /// Every route whose body carries a comment or a reason: the path and the body with `text` in it.
    static func withText(_ text: String) throws -> [(Route, String, String)] {
        let t = String(decoding: try ITVJSON.encode(text), as: UTF8.self)  // a JSON string literal
        let hash = FakeControlService.planHash
        return [
            (.rolloutStart, "/v1/rollouts", #"{"procedure":"firefox-esr","comment":\#(t)}"#),
            (.rolloutApprove, "/v1/rollouts/12/approve", #"{"wave":1,"plan_hash":"\#(hash)","comment":\#(t)}"#),
            (.rolloutPause, "/v1/rollouts/12/pause", #"{"reason":\#(t)}"#),
            (.rolloutResume, "/v1/rollouts/12/resume", #"{"reason":\#(t)}"#),
            (.rolloutAbort, "/v1/rollouts/12/abort", #"{"reason":\#(t)}"#),
            (.rolloutRollback, "/v1/rollouts/12/rollback", #"{"reason":\#(t)}"#),
            (.rolloutRetry, "/v1/rollouts/12/retry", #"{"host":"ws-it-01","comment":\#(t)}"#),
            (.rolloutSkip, "/v1/rollouts/12/skip", #"{"host":"ws-it-01","comment":\#(t)}"#),
            (.windowOpen, "/v1/windows/evening/open", #"{"comment":\#(t)}"#),
            (.windowClose, "/v1/windows/evening/close", #"{"comment":\#(t)}"#),
        ]
    }

    static func post(_ path: String, _ body: String) -> String {
        "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)"
            + "\r\n\r\n\(body)"
    }

    @Test("a comment or reason of 4 KiB is taken; one byte more is refused with invalid_request on every route")
    func textBound() async throws {
        let service = FakeControlService()
        try await withServer(service) { _, socket in
            let fits = String(repeating: "ü", count: ITVLimits.textBytes / 2)  // 4,096 bytes of UTF-8
            for (route, path, body) in try Self.withText(fits) {
                let response = try await rawRequest(socket, Self.post(path, body))
                #expect(response.status == 200, "\(route.rawValue): \(response.body)")
                #expect(service.calls(route) == 1, "\(route.rawValue)")
            }
            for (route, path, body) in try Self.withText(fits + "x") {
                let response = try await rawRequest(socket, Self.post(path, body))
                #expect(response.status == 400, "\(route.rawValue): \(response.body)")
                #expect(response.errorKind == "invalid_request", "\(route.rawValue)")
                #expect(response.body.contains("4097 bytes long"), "\(route.rawValue): \(response.body)")
                #expect(response.body.contains("limited to 4096 bytes"), "\(route.rawValue): \(response.body)")
                #expect(service.calls(route) == 1, "\(route.rawValue) reached the service")
            }
        }
    }

    @Test("many comments of nearly a megabyte, on one connection and on many, are all refused and change nothing")
    func manyLargeComments() async throws {
        let service = FakeControlService()
        try await withServer(service) { _, socket in
            let large = String(repeating: "a", count: 1_000_000)
            let requests = try Self.withText(large)
            // One keep-alive connection: refused, and the connection stays usable.
            let text = try await onThread {
                let client = try RawClient(socket)
                for (_, path, body) in requests {
                    client.send(Self.post(path, body))
                }
                client.send("GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return client.readToEnd()
            }
            #expect(text.components(separatedBy: "HTTP/1.1 400 Bad Request").count == requests.count + 1)
            #expect(text.contains("HTTP/1.1 200 OK"))
            // Many connections at once.
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<40 {
                    let (_, path, body) = requests[i % requests.count]
                    group.addTask { try await rawRequest(socket, Self.post(path, body)).status }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.count == 40 && statuses.allSatisfy { $0 == 400 }, "\(statuses)")
            #expect(service.totalCalls == 1, "only the status call reached the service")
        }
    }

    @Test("a body nested half a million levels deep is refused, and the daemon keeps answering")
    func deepNesting() async throws {
        let service = FakeControlService()
        try await withServer(service) { _, socket in
            for body in [String(repeating: "[", count: 500_000), String(repeating: "{\"a\":", count: 100_000)] {
                let response = try await rawRequest(socket, Self.post("/v1/feeds/check", body))
                #expect(response.status == 400, "\(response.body.prefix(200))")
                #expect(response.errorKind == "invalid_request")
            }
            #expect(try await rawRequest(socket, "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n").status == 200)
            #expect(service.totalCalls == 1)
        }
    }

    @Test("names are bounded; a feed check polls each procedure once")
    func names() async throws {
        let service = FakeControlService()
        try await withServer(service) { _, socket in
            let long = String(repeating: "p", count: ITVLimits.nameCharacters + 1)
            for (path, body) in [
                ("/v1/rollouts", #"{"procedure":"\#(long)"}"#),
                ("/v1/rollouts", #"{"procedure":"firefox-esr","version":"1.0\u0007"}"#),
                ("/v1/rollouts/12/retry", #"{"host":""}"#),
                ("/v1/hosts/scan", #"{"procedure":"\#(long)"}"#),
                ("/v1/feeds/check", #"{"procedures":["\#(long)"]}"#),
            ] {
                let response = try await rawRequest(socket, Self.post(path, body))
                #expect(response.status == 400, "\(path) \(body.prefix(80)): \(response.body)")
                #expect(response.errorKind == "invalid_request")
            }
            #expect(service.totalCalls == 0)
            let many = "[" + Array(repeating: #""firefox-esr""#, count: 5_000).joined(separator: ",") + "]"
            let check = try await rawRequest(socket, Self.post("/v1/feeds/check", #"{"procedures":\#(many)}"#))
            #expect(check.status == 200)
            #expect(service.lastFeedCheck.withLock { $0 } == ["firefox-esr"])
            let tooMany = "[" + Array(repeating: #""a""#, count: ITVLimits.procedures + 1).joined(separator: ",") + "]"
            let refused = try await rawRequest(socket, Self.post("/v1/feeds/check", #"{"procedures":\#(tooMany)}"#))
            #expect(refused.status == 400)
        }
    }
}
