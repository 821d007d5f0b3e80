import Foundation
import ITVControlServer
import ITVProtocol
@_exported import ITVTestSupport
import Logging
import Testing

#if canImport(Glibc)
    import Glibc
#endif

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Where the built `itvctl` is: `$ITV_BIN_DIR` (set by `make test`), else `.build/debug`.
let binDir = ProcessInfo.processInfo.environment["ITV_BIN_DIR"] ?? repositoryRoot + "/.build/debug"

struct TestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A temporary directory, world-traversable (0755) so that other test users reach the socket in it.
final class SocketDir: @unchecked Sendable {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "itv-ctl-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestError("mkdtemp failed")
        }
        path = String(cString: made)
        chmod(path, 0o755)
    }

    var socket: String { path + "/itvd.sock" }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs a ControlServer with `service` on a socket in a fresh directory for the duration of `body`.
func withServer<T>(
    _ service: FakeControlService = FakeControlService(), operators: [String] = ["itv-operators"],
    readers: [String] = ["itv"], deadline: Duration = .seconds(10), maxConnections: Int = 256,
    configure: (inout ControlServerConfig) -> Void = { _ in },
    _ body: (ControlServer, String) async throws -> T
) async throws -> T {
    let dir = try SocketDir()
    var config = ControlServerConfig(
        socketPath: dir.socket, operatorGroups: operators, readerGroups: readers, requestDeadline: deadline,
        maxConnections: maxConnections, allowSocketActivation: false)
    configure(&config)
    let server = ControlServer(config: config, service: service, logger: quietLogger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        defer { group.cancelAll() }
        try await server.waitUntilListening()
        return try await body(server, dir.socket)
    }
}

/// Tests check behaviour, not log lines.
let quietLogger = Logger(label: "itvd.control.test") { _ in SwiftLogNoOpLogHandler() }

typealias RunResult = ChildResult

/// Runs the built itvctl (as `user` through runuser when given) against `socket`.
/// `executable` defaults to the built one; other users get a copy they can reach (see `reachableItvctl`).
func itvctl(_ arguments: [String], socket: String, user: String? = nil, executable: String? = nil) async throws
    -> RunResult
{
    let executable = executable ?? binDir + "/itvctl"
    let environment = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": "UTC"]
    if let user {
        return try await runChildAsync(
            "/usr/sbin/runuser", ["-u", user, "--", executable, "--socket", socket] + arguments,
            environment: environment)
    }
    return try await runChildAsync(executable, ["--socket", socket] + arguments, environment: environment)
}

/// A raw connection to the socket for requests itvctl would never send.
final class RawClient: @unchecked Sendable {
    let fd: Int32

    init(_ path: String) throws {
        do {
            fd = try connectUnixSocket(path)
        } catch {
            throw TestError("\(error)")
        }
        var tv = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) { send(Data(text.utf8)) }

    func send(_ data: Data) {
        _ = data.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, data.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until `marker` has arrived (true), or the connection ends first (false).
    func readUntil(_ marker: String) -> Bool {
        var all = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !String(decoding: all, as: UTF8.self).contains(marker) {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return false }
            all += buffer[0..<n]
        }
        return true
    }

    /// Reads until the server closes the connection (or 30 s pass).
    func readToEnd() -> String {
        var all = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            all += buffer[0..<n]
        }
        return String(decoding: all, as: UTF8.self)
    }
}

/// A parsed HTTP response read by a RawClient.
struct RawResponse {
    var status: Int
    var headers: [String: String]
    var body: String

    init(_ text: String) throws {
        guard let split = text.range(of: "\r\n\r\n") else { throw TestError("no HTTP head in: \(text)") }
        var lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        status = statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0
        headers = [:]
        for line in lines {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                    .trimmingCharacters(in: .whitespaces)
            }
        }
        body = String(text[split.upperBound...])
    }

    var errorKind: String? {
        (try? ITVJSON.decode(ErrorBody.self, from: Data(body.utf8)))?.error.kind.rawValue
    }
}

/// One request on a fresh connection, on a thread of its own. The request asks the server to close the
/// connection after answering (unless it says otherwise), so that the answer can be read to its end.
func rawRequest(_ path: String, _ request: String) async throws -> RawResponse {
    var request = request
    if !request.contains("Connection:"), let line = request.range(of: "HTTP/1.1\r\n") {
        request.replaceSubrange(line, with: "HTTP/1.1\r\nConnection: close\r\n")
    }
    let text = request
    return try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            do {
                let client = try RawClient(path)
                client.send(text)
                continuation.resume(returning: try RawResponse(client.readToEnd()))
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}

/// Runs a shell command as root; throws when it fails.
@discardableResult
func sh(_ command: String) async throws -> RunResult {
    let result = try await runChildAsync("/bin/sh", ["-c", command])
    guard result.status == 0 else { throw TestError("\(command): \(result.status) \(result.stderr)") }
    return result
}

/// A listener that answers one connection with a fixed response (a daemon of another protocol version).
final class OneShotServer: @unchecked Sendable {
    private let fd: Int32
    private let thread: Thread

    init(path: String, response: String) throws {
        guard let fd = try? bindUnixSocket(path, listening: true, backlog: 4) else {
            throw TestError("cannot listen on \(path)")
        }
        self.fd = fd
        let listener = fd
        thread = Thread {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            _ = recv(client, &buffer, buffer.count, 0)
            _ = Array(response.utf8).withUnsafeBytes {
                Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            close(client)
        }
        thread.start()
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}

/// Runs blocking socket I/O on a thread of its own: the cooperative pool has as few threads as cores, and a
/// blocked one starves the server under test.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// A copy of the built itvctl in a world-readable directory: the build directory may sit below one that only
/// root may enter (a clone under /root), which the test users could not run it from.
func reachableItvctl(in dir: SocketDir) throws -> String {
    let copy = dir.path + "/itvctl"
    try? FileManager.default.removeItem(atPath: copy)
    try FileManager.default.copyItem(atPath: binDir + "/itvctl", toPath: copy)
    chmod(copy, 0o755)
    return copy
}
