import Foundation
import ITVControlServer
import ITVProtocol
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Control server: HTTP, limits, socket file")
struct ServerTests {
    @Test("curl-style GET /v1/status answers JSON with the protocol header")
    func statusOverRawHTTP() async throws {
        try await withServer { _, socket in
            let response = try await rawRequest(
                socket, "GET /v1/status HTTP/1.1\r\nHost: itvd\r\nConnection: close\r\n\r\n")
            #expect(response.status == 200)
            #expect(response.headers["itv-protocol"] == "1")
            #expect(response.headers["content-type"] == "application/json")
            let status = try ITVJSON.decode(StatusResponse.self, from: Data(response.body.utf8))
            #expect(status.hosts == 800)
        }
    }

    @Test("curl --unix-socket works")
    func curl() async throws {
        try await withServer { _, socket in
            let result = try await sh("curl -sS -i --unix-socket \(socket) http://itvd/v1/status")
            #expect(result.stdout.hasPrefix("HTTP/1.1 200"))
            #expect(result.stdout.lowercased().contains("itv-protocol: 1"))
            #expect(result.stdout.contains("\"daemon_version\":\"0.1.0\""))
            // The watch stream is NDJSON: one event per line, ending with the one that ends the watch.
            let events = try await sh("curl -sSN --unix-socket \(socket) http://itvd/v1/rollouts/13/events")
            let lines = events.stdout.split(separator: "\n")
            #expect(lines.count == 4)
            let last = try ITVJSON.decode(RolloutEvent.self, from: Data((lines.last ?? "").utf8))
            #expect(last.rolloutPhase == .succeeded)
        }
    }

    @Test(
        "malformed requests get typed errors and reach no route",
        arguments: [
            ("garbage bytes", "\u{01}\u{02}GARBAGE\r\n\r\n", 400, "invalid_request"),
            ("wrong method", "DELETE /v1/status HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method_not_allowed"),
            ("GET on a change", "GET /v1/reload HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method_not_allowed"),
            ("unknown route", "GET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not_found"),
            ("unversioned route", "GET /status HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not_found"),
            (
                "invalid JSON", "POST /v1/rollouts HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n{\"proced", 400,
                "invalid_request"
            ),
            (
                "missing field", "POST /v1/rollouts/12/approve HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 400,
                "invalid_request"
            ),
            (
                "wrong type",
                "POST /v1/windows/e/open HTTP/1.1\r\nHost: x\r\nContent-Length: 25\r\n\r\n"
                    + "{\"duration_seconds\":\"4h\"}", 400, "invalid_request"
            ),
            ("bad rollout id", "GET /v1/rollouts/twelve HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request"),
            (
                "huge body", "POST /v1/feeds/check HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413,
                "payload_too_large"
            ),
            (
                "other protocol", "GET /v1/status HTTP/1.1\r\nHost: x\r\nITV-Protocol: 2\r\n\r\n", 400,
                "protocol_mismatch"
            ),
        ])
    func malformed(_ name: String, _ request: String, _ status: Int, _ kind: String) async throws {
        let service = FakeControlService()
        try await withServer(service) { _, socket in
            let response = try await rawRequest(socket, request)
            #expect(response.status == status, "\(name)")
            #expect(response.errorKind == kind, "\(name): \(response.body)")
            #expect(response.headers["itv-protocol"] == "1", "\(name)")
            #expect(service.totalCalls == 0, "\(name) reached the service")
        }
    }

    @Test("a chunked body over the limit is refused")
    func chunkedTooLarge() async throws {
        let service = FakeControlService()
        try await withServer(service) { _, socket in
            var request = "POST /v1/feeds/check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            let chunk = String(repeating: "a", count: 256 * 1024)
            for _ in 0..<5 { request += String(chunk.count, radix: 16) + "\r\n" + chunk + "\r\n" }
            request += "0\r\n\r\n"
            let response = try await rawRequest(socket, request)
            #expect(response.status == 413)
            #expect(service.totalCalls == 0)
        }
    }

    @Test("keep-alive: two requests on one connection")
    func keepAlive() async throws {
        try await withServer { _, socket in
            let text = try await onThread {
                let client = try RawClient(socket)
                client.send(
                    "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/windows HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
                return client.readToEnd()
            }
            #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
            #expect(text.contains("\"windows\""))
        }
    }

    @Test("100 concurrent clients, an idle one and a garbage one leave the server responsive")
    func concurrency() async throws {
        try await withServer(deadline: .seconds(2)) { _, socket in
            // A client that starts a request and never finishes it.
            let idle = try RawClient(socket)
            idle.send("GET /v1/status HTTP/1.1\r\nHost: x\r\n")
            let garbage = try RawClient(socket)
            garbage.send(Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<100 {
                    group.addTask {
                        try await rawRequest(socket, "GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                            .status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.count == 100)
            #expect(statuses.allSatisfy { $0 == 200 })
            let start = ContinuousClock.now
            let status = try await itvctl(["status"], socket: socket)
            #expect(status.status == 0, "\(status.stderr)")
            #expect(ContinuousClock.now - start < .seconds(10))
            // The idle client is told and dropped once the deadline passes.
            let idleAnswer = try await onThread { try RawResponse(idle.readToEnd()) }
            #expect(idleAnswer.status == 408)
            #expect(idleAnswer.errorKind == "timeout")
        }
    }

    @Test("a client that stops reading a large answer is dropped after the request deadline and frees its slot")
    func slowReader() async throws {
        let service = FakeControlService()
        service.auditEntries.withLock { $0 = 30_000 }  // about 4 MB of JSON: far more than the socket buffers
        // The deadline is re-armed once the whole answer is handed to the channel, whether or not the client
        // takes it: one that stops reading is dropped like an idle one.
        try await withServer(service, deadline: .seconds(1), maxConnections: 1) { _, socket in
            let stalled = try RawClient(socket)
            stalled.send("GET /v1/audit HTTP/1.1\r\nHost: x\r\n\r\n")
            try await Task.sleep(for: .milliseconds(300))  // taken before the others (as in connectionLimit)
            // It never reads. Its connection is the only one allowed: until the server gives up on it, every
            // other client gets `unavailable`.
            var answered: RawResponse?
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                let r = try await rawRequest(socket, "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
                if r.status == 200 {
                    answered = r
                    break
                }
                #expect(r.status == 503)
                try await Task.sleep(for: .milliseconds(250))
            }
            #expect(answered != nil, "the stalled reader still holds the only connection")
            // What it gets when it reads at last: the part that was buffered, then the end of the connection.
            let got = try await onThread { stalled.readToEnd() }
            let header = got.components(separatedBy: "\r\n\r\n").first ?? ""
            let length = header.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
            #expect((length ?? 0) > 3_000_000, "\(got.prefix(400))")
            #expect(got.utf8.count - header.utf8.count - 4 < length ?? 0, "the answer was cut off")
        }
    }

    @Test("connections beyond the limit get unavailable")
    func connectionLimit() async throws {
        try await withServer(maxConnections: 2) { _, socket in
            let a = try RawClient(socket)
            let b = try RawClient(socket)
            a.send("GET /v1/status HTTP/1.1\r\nHost: x\r\n")
            b.send("GET /v1/status HTTP/1.1\r\nHost: x\r\n")
            try await Task.sleep(for: .milliseconds(200))
            let third = try await rawRequest(socket, "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(third.status == 503)
            #expect(third.errorKind == "unavailable")
        }
    }

    @Test("the socket file is 0660, owned by the first reader group that exists, and removed on stop")
    func socketFile() async throws {
        let dir = try SocketDir()
        let path = dir.socket
        let service = FakeControlService()
        // `nogroup` exists on Debian; the first name does not.
        let config = ControlServerConfig(
            socketPath: path, operatorGroups: ["root"], readerGroups: ["itv-no-such-group", "nogroup"],
            allowSocketActivation: false)
        let server = ControlServer(config: config, service: service, logger: quietLogger)
        let task = Task { try await server.run() }
        try await server.waitUntilListening()
        var info = stat()
        #expect(lstat(path, &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFSOCK)
        #expect(info.st_mode & 0o777 == 0o660)
        #expect(info.st_gid == getgrnam("nogroup").pointee.gr_gid)
        // No private directory is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["itvd.sock"])
        task.cancel()
        _ = try? await task.value
        #expect(access(path, F_OK) != 0)
    }

    @Test("a stale socket of a dead daemon is replaced")
    func staleSocket() async throws {
        let dir = try SocketDir()
        // A socket file nobody listens on: bound, then closed.
        let fd = try bindUnixSocket(dir.socket)
        close(fd)
        #expect(access(dir.socket, F_OK) == 0)
        let server = ControlServer(
            config: ControlServerConfig(
                socketPath: dir.socket, operatorGroups: [], readerGroups: [], allowSocketActivation: false),
            service: FakeControlService(), logger: quietLogger)
        let task = Task { try await server.run() }
        try await server.waitUntilListening()
        let result = try await itvctl(["status"], socket: dir.socket)
        #expect(result.status == 0, "\(result.stderr)")
        task.cancel()
        _ = try? await task.value
    }

    @Test("a live socket is refused with a clear error, and the first server keeps serving")
    func liveSocket() async throws {
        try await withServer { _, socket in
            let second = ControlServer(
                config: ControlServerConfig(
                    socketPath: socket, operatorGroups: [], readerGroups: [], allowSocketActivation: false),
                service: FakeControlService(), logger: quietLogger)
            await #expect {
                try await second.run()
            } throws: { error in
                let e = error as? ControlServerError
                return e?.kind == "socket_in_use"
                    && e?.message.contains("another itvd is listening on \(socket)") == true
            }
            let result = try await itvctl(["status"], socket: socket)
            #expect(result.status == 0)
        }
    }

    @Test("a path that is not a socket is left alone")
    func notASocket() async throws {
        let dir = try SocketDir()
        _ = FileManager.default.createFile(atPath: dir.socket, contents: Data("keep me".utf8))
        let server = ControlServer(
            config: ControlServerConfig(
                socketPath: dir.socket, operatorGroups: [], readerGroups: [], allowSocketActivation: false),
            service: FakeControlService(), logger: quietLogger)
        await #expect(throws: ControlServerError.self) { try await server.run() }
        #expect(try String(contentsOfFile: dir.socket, encoding: .utf8) == "keep me")
    }
}

@Suite("Control server: curl bodies")
struct CurlBodyTests {
    @Test("curl posting a body larger than 1 KiB (Expect: 100-continue) is answered")
    func expectContinue() async throws {
        let service = FakeControlService()
        try await withServer(service) { _, socket in
            let ids = (0..<200).map { "\"procedure-\($0)\"" }.joined(separator: ",")
            let body = "{\"procedures\":[\(ids)]}"
            let start = ContinuousClock.now
            let result = try await sh(
                "curl -sS -H 'Content-Type: application/json' --data-binary '\(body)' "
                    + "--unix-socket \(socket) http://itvd/v1/feeds/check")
            #expect(result.stdout.contains("\"results\""))
            #expect(service.calls(.feedCheck) == 1)
            // Without the 100 Continue answer curl would wait a whole second before sending.
            #expect(ContinuousClock.now - start < .seconds(30))
        }
    }
}

@Suite("Control server: watch streams")
struct WatchStreamTests {
    @Test("a watcher that goes away between events ends the engine's stream at once")
    func watcherLeaves() async throws {
        let service = FakeControlService()
        try await withServer(service) { _, socket in
            let firstLine = try await onThread {
                let client = try RawClient(socket)
                client.send("GET /v1/rollouts/15/events HTTP/1.1\r\nHost: x\r\n\r\n")
                return client.readUntil("\"kind\":\"snapshot\"")
            }
            #expect(firstLine)
            // The client is gone (closed when RawClient was released); no event follows.
            let deadline = ContinuousClock.now + .seconds(30)
            while service.endedWatches.withLock({ $0 }) == 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(service.endedWatches.withLock { $0 } == 1)
        }
    }
}

@Suite("Control server: cut-off requests")
struct CutOffTests {
    @Test("a change whose body never arrives in full is not acted on")
    func truncatedBody() async throws {
        let service = FakeControlService()
        try await withServer(service, deadline: .seconds(1)) { _, socket in
            let body = #"{"procedures":["firefox-esr"]}"#
            // Announces the whole body, sends half of it, then stalls until the deadline drops it.
            let stalled = try await onThread {
                let client = try RawClient(socket)
                client.send(
                    "POST /v1/feeds/check HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                        + body.prefix(10))
                return try RawResponse(client.readToEnd())
            }
            #expect(stalled.status == 408)
            // Sends half of it and goes away.
            try await onThread {
                let client = try RawClient(socket)
                client.send(
                    "POST /v1/feeds/check HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                        + body.prefix(10))
            }
            // Both are over; a whole request still works, and only it reached the service.
            let whole = try await itvctl(["feed", "check", "firefox-esr"], socket: socket)
            #expect(whole.status == 0)
            #expect(service.calls(.feedCheck) == 1)
        }
    }
}
