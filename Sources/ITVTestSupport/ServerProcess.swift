import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A long-running child (a test server, slapd, the built itvd): started with posix_spawn, waited for with a
/// deadline, stopped by its PID (SIGTERM, then SIGKILL) and reaped here with waitpid; a value released while
/// the child still runs kills and reaps it.
///
/// Not Foundation's `Process`, whose termination handler was seen not to fire (children left as zombies) when
/// several tests started processes at once. The child gets no descriptor of this process but its standard
/// input (/dev/null), output and error, and default signal dispositions. Output and error go to files, never
/// to a pipe (a child that prints a lot never blocks): to `log` (appended, both streams) when given, else to
/// files of its own. A server that prints a ready line (its port) is waited for with `readyLine`; one that is
/// ready when it answers, with `waitUntilReady`.
public final class ServerProcess: Sendable {
    public let pid: pid_t
    /// Where standard output goes (the log when given).
    public let stdoutPath: String
    /// Where standard error goes (the log when given).
    public let stderrPath: String
    private let directory: TempDir
    /// The exit status once reaped (see `waitForChild` for its meaning).
    private let ended = Mutex<Int32?>(nil)

    /// The repository's root directory (for `scripts/...`).
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts `path` with `arguments`; `environment` nil inherits this process's.
    public init(_ path: String, _ arguments: [String], environment: [String: String]? = nil, log: String? = nil) throws
    {
        directory = try TempDir()
        stdoutPath = log ?? directory.path + "/stdout"
        stderrPath = log ?? directory.path + "/stderr"
        pid = try spawnChild(
            path, arguments, environment: environment, stdin: "/dev/null", stdout: stdoutPath,
            stderr: log == nil ? stderrPath : nil, append: log != nil)
    }

    /// `/usr/bin/python3 REPOSITORY/script arguments...` (a script of this repository, e.g.
    /// `scripts/notify/webhook-receiver.py`).
    public static func python(_ script: String, _ arguments: [String]) throws -> ServerProcess {
        try ServerProcess("/usr/bin/python3", [repository + "/" + script] + arguments)
    }

    deinit {
        // A test that forgot `stop` (or threw before it) leaves no server behind.
        kill9()
    }

    /// The exit status once the child ended (it is reaped then), nil while it runs.
    public var exitStatus: Int32? {
        ended.withLock { ended in
            if ended == nil {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    let signal = status & 0x7f
                    ended = signal == 0 ? (status >> 8) & 0xff : 128 + signal
                }
            }
            return ended
        }
    }

    public var isRunning: Bool { exitStatus == nil }

    /// What the child wrote to standard output so far.
    public var stdout: String { outputText(stdoutPath) }
    /// What the child wrote to standard error so far (the same as `stdout` with a log).
    public var stderr: String { outputText(stderrPath) }

    /// Sends `number` to the child, unless it was reaped already (its PID may be another process's by then).
    public func signal(_ number: Int32) {
        if exitStatus == nil { kill(pid, number) }
    }

    /// What the child wrote to standard error so far (its end), for failure messages.
    public func errorTail(_ characters: Int = 2000) -> String {
        String(stderr.suffix(characters))
    }

    /// The first line the child prints on standard output, without its newline, once it is complete. Fails
    /// (and kills the child) when the child ends first or prints no line within `timeout`. Blocking.
    public func readyLine(timeout: Duration = .seconds(60)) throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let text = stdout
            if let newline = text.firstIndex(of: "\n") { return String(text[..<newline]) }
            if let status = exitStatus {
                throw Failure(description: "\(pid) exited \(status) before its ready line: \(errorTail())")
            }
            if ContinuousClock.now >= deadline {
                _ = stop(grace: .zero)
                throw Failure(description: "\(pid) printed no ready line within \(timeout): \(errorTail())")
            }
            usleep(20_000)
        }
    }

    /// The ports the ready line names ("<port> [<port> ...]"): exactly `count` of them, or it fails.
    public func readyPorts(_ count: Int, timeout: Duration = .seconds(60)) throws -> [Int] {
        let line = try readyLine(timeout: timeout)
        let ports = line.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard ports.count == count, ports.allSatisfy({ $0 > 0 }) else {
            _ = stop(grace: .zero)
            throw Failure(description: "\(pid): expected \(count) port(s) in its ready line, got \"\(line)\"")
        }
        return ports
    }

    /// Polls `ready` (every 50 ms) until it holds; fails when the child ends first or `timeout` passes.
    public func waitUntilReady(
        _ what: String, timeout: Duration = .seconds(60), _ ready: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = exitStatus { throw Failure(description: "exited \(status) before \(what)") }
            if try await ready() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "not \(what) within \(timeout)")
    }

    /// SIGTERM, then SIGKILL when the child has not ended within `grace`; waits until it is reaped. Its exit
    /// status when it ended within `grace` (after SIGTERM), nil when it had to be killed. Blocking: for `defer`
    /// and `deinit`; async code calls `terminate`.
    @discardableResult
    public func stop(grace: Duration = .seconds(20)) -> Int32? {
        signal(SIGTERM)
        if let status = blockingWait(grace) { return status }
        kill9()
        return nil
    }

    /// `stop` without blocking a thread of the cooperative pool while it waits.
    @discardableResult
    public func terminate(grace: Duration = .seconds(30)) async -> Int32? {
        signal(SIGTERM)
        if let status = await waitForExit(grace) { return status }
        signal(SIGKILL)
        _ = await waitForExit(.seconds(60))
        return nil
    }

    /// SIGKILL, and waits until the child is reaped.
    public func kill9() {
        signal(SIGKILL)
        _ = blockingWait(nil)
    }

    /// The exit status once the child ended within `timeout`, else nil (it still runs).
    public func waitForExit(_ timeout: Duration) async -> Int32? {
        _ = await eventually(timeout: timeout, interval: .milliseconds(20)) { exitStatus != nil }
        return exitStatus
    }

    /// Waits up to `timeout` (nil: for as long as it takes) for the child to end; its status, nil if it runs.
    private func blockingWait(_ timeout: Duration?) -> Int32? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            if let status = exitStatus { return status }
            if let deadline, ContinuousClock.now >= deadline { return nil }
            usleep(10_000)
        }
    }
}
