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

/// A process started by a test, with stdout and stderr in files. It is stopped by its PID: `stop()` sends
/// SIGTERM and then SIGKILL; a value released while the process still runs is killed and reaped.
///
/// Started with posix_spawn and reaped here with waitpid rather than through Foundation's `Process`, whose
/// termination handler was seen not to fire (children left as zombies) when several tests started processes at
/// once. The child gets no descriptor of this process but stdin (/dev/null), stdout and stderr, and default
/// signal dispositions.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    private let directory: TempDir
    private let lock = NSLock()
    private var exitStatus: Int32?

    init(_ executable: String, _ arguments: [String], environment: [String: String]) throws {
        directory = try TempDir()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, directory.path + "/stdout", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, directory.path + "/stderr", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard let closeFrom = Self.addCloseFrom, closeFrom(&actions, 3) == 0 else {
            throw SystemdTestError("posix_spawn_file_actions_addclosefrom_np is missing (glibc 2.34 or later needed)")
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw SystemdTestError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        pid = child
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np`, which Swift's Glibc module does not declare.
    private static let addCloseFrom:
        (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? =
            dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
                unsafeBitCast(
                    $0,
                    to: (@convention(c) (
                        UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32
                    ) -> Int32).self)
            }

    /// The exit status (128 + the signal's number when a signal ended it), or nil while it runs.
    var status: Int32? {
        lock.withLock {
            if exitStatus == nil {
                var raw: Int32 = 0
                if waitpid(pid, &raw, WNOHANG) == pid {
                    exitStatus = raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                }
            }
            return exitStatus
        }
    }

    var stdout: String { (try? String(contentsOfFile: directory.path + "/stdout", encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: directory.path + "/stderr", encoding: .utf8)) ?? "" }

    /// The exit status once the process ended within `timeout`, else nil.
    func waitForExit(_ timeout: Duration) async -> Int32? {
        _ = await waitUntil(timeout) { status != nil }
        return status
    }

    func signal(_ number: Int32) {
        if status == nil { kill(pid, number) }
    }

    /// SIGTERM, then SIGKILL when it has not ended within `grace`; the exit status.
    @discardableResult
    func stop(grace: Duration = .seconds(30)) async -> Int32? {
        signal(SIGTERM)
        if let status = await waitForExit(grace) { return status }
        signal(SIGKILL)
        return await waitForExit(.seconds(10))
    }

    deinit {
        if status == nil {
            kill(pid, SIGKILL)
            var raw: Int32 = 0
            waitpid(pid, &raw, 0)
        }
    }
}

/// Runs a program to completion without blocking the cooperative pool (killed by PID after `timeout`).
func runTool(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    timeout: Duration = .seconds(120)
) async throws -> RunResult {
    let child = try ChildProcess(executable, arguments, environment: environment ?? childEnvironment())
    guard let status = await child.waitForExit(timeout) else {
        await child.stop(grace: .seconds(5))
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
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var enable: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &enable, socklen_t(MemoryLayout<Int32>.size))
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
        var buffer = [UInt8](repeating: 0, count: 4096)
        var control = [UInt8](repeating: 0, count: 256)
        while true {
            let (count, sender) = buffer.withUnsafeMutableBytes { data in
                control.withUnsafeMutableBytes { control in
                    var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        var message = msghdr()
                        message.msg_iov = vectorPointer
                        message.msg_iovlen = 1
                        message.msg_control = control.baseAddress
                        message.msg_controllen = control.count
                        let count = recvmsg(fd, &message, 0)
                        return (count, Self.senderPID(control, length: message.msg_controllen))
                    }
                }
            }
            if count <= 0 { return }
            if let sender { received.append((sender, String(decoding: buffer[0..<count], as: UTF8.self))) }
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

    /// The pid of an SCM_CREDENTIALS control message (docs/TECH-NOTES.md 19: Swift's Glibc lacks `struct ucred`).
    static func senderPID(_ control: UnsafeMutableRawBufferPointer, length: Int) -> pid_t? {
        let scmCredentials: Int32 = 2
        let headerSize = MemoryLayout<Int>.size + 2 * MemoryLayout<Int32>.size
        var offset = 0
        while offset + headerSize + MemoryLayout<pid_t>.size <= length {
            let cmsgLength = control.load(fromByteOffset: offset, as: Int.self)
            let level = control.load(fromByteOffset: offset + MemoryLayout<Int>.size, as: Int32.self)
            let type = control.load(fromByteOffset: offset + MemoryLayout<Int>.size + 4, as: Int32.self)
            if level == SOL_SOCKET && type == scmCredentials {
                return control.load(fromByteOffset: offset + headerSize, as: pid_t.self)
            }
            guard cmsgLength > 0 else { return nil }
            offset += (cmsgLength + 7) & ~7
        }
        return nil
    }
}
