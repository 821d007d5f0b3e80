import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// Support for the tests that run the built itvd and itvctl the way systemd does: a notification socket of the
// test's own, processes stopped by PID whatever happens, a daemon directory with a config, and a fleet.

struct SystemdTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The environment of a process the tests start: this process's, without what systemd or another test may
/// have set here (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*, ITV_SOCKET), plus `extra`.
func childEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    for key in [
        "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "ITV_SOCKET",
    ] {
        environment[key] = nil
    }
    return environment.merging(extra) { _, new in new }
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes; the last value.
func waitUntil(_ timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async rethrows -> Bool {
    try await eventually(timeout: timeout, interval: .milliseconds(100), condition)
}

/// Runs a program to completion without blocking the cooperative pool (killed by PID after `timeout`).
func runTool(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    timeout: Duration = .seconds(120)
) async throws -> RunResult {
    let child = try ServerProcess(executable, arguments, environment: environment ?? childEnvironment())
    guard let status = await child.waitForExit(timeout) else {
        await child.terminate(grace: .seconds(5))
        throw SystemdTestError("\(executable) \(arguments.joined(separator: " ")) did not finish in \(timeout)")
    }
    return RunResult(status: status, stdout: child.stdout, stderr: child.stderr)
}

/// The notification socket of a service manager: an AF_UNIX datagram socket bound in a directory of its own,
/// that keeps what each process sent, so that a test reads what the service's main PID sent (as systemd's
/// NotifyAccess=main) and nothing of processes that inherited NOTIFY_SOCKET.
final class NotifySocket: @unchecked Sendable {
    let fd: Int32
    let path: String
    private let directory: TempDir
    private let lock = NSLock()
    private var received: [(pid: pid_t, message: String)] = []

    init() throws {
        directory = try TempDir()
        path = directory.path + "/notify"
        do {
            fd = try bindUnixSocket(path, type: Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
        } catch {
            throw SystemdTestError("\(error)")
        }
        receiveCredentials(fd)
    }

    deinit { close(fd) }

    /// Every message `pid` sent so far, in order.
    func messages(from pid: pid_t) -> [String] {
        lock.withLock {
            receiveWaiting()
            return received.filter { $0.pid == pid }.map(\.message)
        }
    }

    /// Reads what waits on the socket into `received`, with each sender's PID.
    private func receiveWaiting() {
        for (pid, message) in receiveDatagrams(fd) {
            if let pid { received.append((pid, message)) }
        }
    }

    /// Waits until a message from `pid` satisfies `match`; all messages so far.
    func waitFor(from pid: pid_t, timeout: Duration = .seconds(60), _ match: (String) -> Bool) async -> [String]? {
        var all: [String] = []
        let found = await waitUntil(timeout) {
            all = messages(from: pid)
            return all.contains(where: match)
        }
        return found ? all : nil
    }
}
