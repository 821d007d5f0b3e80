import Foundation
import ITVControlServer
import ITVProtocol
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A user who opens many connections to the socket and holds the ones it gets: `python3 HOLD.py SOCKET
/// watch|status N` run as that user. Each connection asks for a never-ending watch (rollout 15) or a
/// keep-alive status; a refused one is closed. Prints one JSON line (how many it holds, how many were
/// refused and why), then holds until its standard input closes.
private let holdScript = #"""
    import json, socket, sys

    path, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    request = {
        "watch": b"GET /v1/rollouts/15/events HTTP/1.1\r\nHost: x\r\n\r\n",
        "status": b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
    }[mode]
    held, refusals, failures = [], {}, 0

    def receive(s):
        try:
            return s.recv(65536)
        except ConnectionResetError:
            return b""  # closed by the server after its answer, with our request unread

    def answer(s):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = receive(s)
            if not chunk:
                return None, b""
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(rest) < length:
                chunk = receive(s)
                if not chunk:
                    break
                rest += chunk
        return status, rest

    for _ in range(count):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        try:
            s.connect(path)
            try:
                s.sendall(request)
            except OSError:
                pass  # refused at once: the answer is already waiting
            status, body = answer(s)
        except OSError:
            failures += 1
            s.close()
            continue
        if status == 200:
            held.append(s)
        else:
            try:
                message = json.loads(body)["error"]["message"]
            except Exception:
                message = "HTTP %s" % status
            refusals[message] = refusals.get(message, 0) + 1
            s.close()

    print(json.dumps({"held": len(held), "refusals": refusals, "failures": failures}), flush=True)
    sys.stdin.read()
    """#

/// One request (read from standard input) on a connection of its own, as sent; prints the answer as read
/// until the server closes the connection (or 60 s pass).
private let rawScript = #"""
    import socket, sys

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(sys.argv[1])
    s.sendall(sys.stdin.buffer.read())
    answer = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    except OSError:
        pass
    sys.stdout.buffer.write(answer)
    """#

/// Sends `request` as `user` (see `rawScript`); the answer.
func rawRequest(as user: String, socket: String, _ request: String, scriptDir: SocketDir) async throws -> RawResponse {
    let script = scriptDir.path + "/raw.py"
    try Data(rawScript.utf8).write(to: URL(fileURLWithPath: script))
    chmod(script, 0o644)
    let requestFile = scriptDir.path + "/request-\(UUID().uuidString)"
    try Data(request.utf8).write(to: URL(fileURLWithPath: requestFile))
    chmod(requestFile, 0o644)
    let result = try await runChildAsync(
        "/bin/sh", ["-c", "exec /usr/sbin/runuser -u \(user) -- /usr/bin/python3 \(script) \(socket) < \(requestFile)"])
    return try RawResponse(result.stdout)
}

/// `holdScript` running as a Unix user, holding its connections until `stop()`.
final class ConnectionHolder: @unchecked Sendable {
    struct Report: Decodable {
        var held: Int
        var refusals: [String: Int]
        var failures: Int

        var refused: Int { refusals.values.reduce(0, +) }
    }

    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()

    /// Starts the holder and returns once it reports what it holds.
    static func start(as user: String, socket: String, mode: String, count: Int, scriptDir: SocketDir) async throws
        -> (ConnectionHolder, Report)
    {
        let script = scriptDir.path + "/hold.py"
        try Data(holdScript.utf8).write(to: URL(fileURLWithPath: script))
        chmod(script, 0o644)
        let holder = ConnectionHolder()
        holder.process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        holder.process.arguments = ["-u", user, "--", "/usr/bin/python3", script, socket, mode, String(count)]
        holder.process.standardInput = holder.input
        holder.process.standardOutput = holder.output
        holder.process.standardError = FileHandle.nullDevice
        try holder.process.run()
        let handle = holder.output.fileHandleForReading
        let line = try await onThread { () throws -> Data in
            var data = Data()
            while !data.contains(UInt8(ascii: "\n")) {
                let chunk = handle.availableData
                if chunk.isEmpty {
                    throw TestError("the holder ended before reporting: \(String(decoding: data, as: UTF8.self))")
                }
                data.append(chunk)
            }
            return data
        }
        return (holder, try JSONDecoder().decode(Report.self, from: line))
    }

    /// Ends the holder (closing every connection it holds) and waits for it.
    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

/// As root, with the test users created (and deleted afterwards): a control server on `service` whose
/// operators and readers are the test groups. `body` gets the users, a directory other users can read (for
/// scripts and an itvctl they may run), the server and its socket. Without root: an issue, and nothing runs.
func withUsersAndServer(
    _ service: FakeControlService, deadline: Duration = .seconds(10), maxConnections: Int = 256,
    configure: (inout ControlServerConfig) -> Void = { _ in },
    _ body: (TestUsers, SocketDir, ControlServer, String) async throws -> Void
) async throws {
    guard getuid() == 0 else {
        Issue.record("needs root to create users")
        return
    }
    let users = TestUsers()
    try await users.with {
        let dir = try SocketDir()
        try await withServer(
            service, operators: [users.operatorGroup], readers: [users.readerGroup], deadline: deadline,
            maxConnections: maxConnections, configure: configure
        ) { server, socket in try await body(users, dir, server, socket) }
    }
}

extension TestUsers {
    /// Runs `body` with the users created, deleting them afterwards even when it throws.
    func with<T>(_ body: () async throws -> T) async throws -> T {
        try await create()
        do {
            let result = try await body()
            await delete()
            return result
        } catch {
            await delete()
            throw error
        }
    }
}

/// Readers cannot lock operators out: per-uid caps on connections and watch streams, and connections kept
/// for operators. With real Unix users, each holding what it may.
@Suite("Control server: a fair share of connections, with real Unix users", .serialized)
struct FairShareTests {
    /// The issue as reported: a reader asks for 256 `rollout watch` streams at once. It gets 8; an operator's
    /// status and approve still succeed (in seconds, not after a timeout).
    @Test("a reader's 256 watch streams: 8 are followed, operators keep working")
    func watchFlood() async throws {
        let service = FakeControlService()
        try await withUsersAndServer(service) { users, dir, _, socket in
            let executable = try reachableItvctl(in: dir)
            let (holder, report) = try await ConnectionHolder.start(
                as: users.readerUser, socket: socket, mode: "watch", count: 256, scriptDir: dir)
            defer { holder.stop() }
            #expect(report.held == 8, "\(report)")
            #expect(report.failures == 0, "\(report)")
            #expect(report.refused == 248, "\(report)")
            #expect(
                report.refusals.keys.contains { $0.contains("the most one user may follow at once") }, "\(report)")

            try await expectOperatorsWork(users, socket: socket, executable: executable, service: service)
            // Another reader is not affected by the first one's share.
            let other = try await itvctl(
                ["status"], socket: socket, user: users.readerUser2, executable: executable)
            #expect(other.status == 0, "\(other.stderr)")
            // The reader itself may still read on a connection of its own.
            let own = try await itvctl(["status"], socket: socket, user: users.readerUser, executable: executable)
            #expect(own.status == 0, "\(own.stderr)")
        }
    }

    /// A reader holds every connection it may open (32); its 33rd is refused, and so is every further
    /// reader's once the readers' share is full; root and an operator still get in.
    @Test("a reader holding every connection it may: operators still approve, other readers are refused")
    func readerHoldsItsShare() async throws {
        let service = FakeControlService()
        // 40 connections, 8 kept for operators: the 32 a reader may hold fill the readers' share.
        try await withUsersAndServer(
            service, deadline: .seconds(120), maxConnections: 40, configure: { $0.operatorReserve = 8 }
        ) { users, dir, _, socket in
            let executable = try reachableItvctl(in: dir)
            let (holder, report) = try await ConnectionHolder.start(
                as: users.readerUser, socket: socket, mode: "status", count: 40, scriptDir: dir)
            defer { holder.stop() }
            #expect(report.held == 32, "\(report)")
            #expect(report.refused == 8 && report.failures == 0, "\(report)")
            #expect(report.refusals.keys.allSatisfy { $0.contains("the most one user may have") }, "\(report)")

            // A second reader finds the readers' share full.
            let other = try await itvctl(
                ["status"], socket: socket, user: users.readerUser2, executable: executable)
            #expect(other.status == 1, "\(other.stdout)\(other.stderr)")
            #expect(other.stderr.contains("kept for operators"), "\(other.stderr)")

            try await expectOperatorsWork(users, socket: socket, executable: executable, service: service)

            // Once the holder lets go, the slots are free again.
            holder.stop()
            var after: RunResult?
            _ = try await eventually(timeout: .seconds(30), interval: .milliseconds(100)) {
                after = try await itvctl(
                    ["status"], socket: socket, user: users.readerUser2, executable: executable)
                return after?.status == 0
            }
            #expect(after?.status == 0, "\(after?.stderr ?? "")")
        }
    }

    /// A reader's request is decided on its head: a change it may not make is refused before its body is
    /// read (a reader cannot make the daemon hold a megabyte per connection), and reads take no large body.
    @Test("a reader's requests are refused on their head, before any body is read")
    func refusedOnTheHead() async throws {
        let service = FakeControlService()
        // A long request deadline: an answer that waited for the body would come only after it.
        try await withUsersAndServer(service, deadline: .seconds(120)) { users, dir, _, socket in
            // Announces a megabyte for a change, sends none of it.
            let start = ContinuousClock.now
            let change = try await rawRequest(
                as: users.readerUser, socket: socket,
                "POST /v1/rollouts HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n", scriptDir: dir)
            #expect(change.status == 403, "\(change.body)")
            #expect(change.errorKind == "permission_denied")
            // A read with a body larger than readers may send.
            let read = try await rawRequest(
                as: users.readerUser, socket: socket,
                "GET /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", scriptDir: dir)
            #expect(read.status == 413, "\(read.body)")
            #expect(read.errorKind == "payload_too_large")
            #expect(ContinuousClock.now - start < .seconds(60), "the answers waited for bodies")
            #expect(service.totalCalls == 0)
            #expect(service.denials.map(\.route) == ["rollout.start"])
        }
    }

    /// Operators (and root) get status, approve and pause answered, each within a few seconds.
    private func expectOperatorsWork(
        _ users: TestUsers, socket: String, executable: String, service: FakeControlService
    ) async throws {
        let approvals = service.calls(.rolloutApprove)
        for (user, arguments) in [
            (users.operatorUser, ["status"]), (users.operatorUser, ["rollout", "approve", "12", "--comment", "ok"]),
            (users.operatorUser, ["rollout", "pause", "12"]), (nil, ["status"]),
        ] as [(String?, [String])] {
            let start = ContinuousClock.now
            let result = try await itvctl(arguments, socket: socket, user: user, executable: executable)
            let took = ContinuousClock.now - start
            #expect(result.status == 0, "\(user ?? "root") \(arguments): \(result.stderr)")
            #expect(took < .seconds(10), "\(user ?? "root") \(arguments) took \(took)")
        }
        #expect(service.calls(.rolloutApprove) == approvals + 1)
    }
}
