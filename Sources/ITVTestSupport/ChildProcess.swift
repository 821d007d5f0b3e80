import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How a child process ended and what it printed.
public struct ChildResult: Sendable {
    /// The exit status, or 128 + the signal that ended it (as a shell reports it).
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public var description: String
}

/// Starts `path` with `arguments` (posix_spawn), waits for it (waitpid) and returns its status and output.
///
/// Standard input is /dev/null (or `input`, written to a file first), standard output and error go to files
/// (no pipe to drain, so a child that prints a lot never blocks). `environment` nil inherits this process's.
/// A child still running after `timeout` is killed (SIGKILL, by its PID). Blocking: call it from a thread, or
/// through `runChildAsync`, never on the cooperative pool directly.
public func runChild(
    _ path: String, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil,
    timeout: Duration? = nil
) throws -> ChildResult {
    let dir = try TempDir()
    let outPath = dir.path + "/stdout"
    let errPath = dir.path + "/stderr"
    let inPath = input == nil ? "/dev/null" : try dir.write("stdin", input ?? "")
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        argv.forEach { free($0) }
        env.forEach { free($0) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, nil, argv, env)
    guard rc == 0 else {
        throw ChildProcessError(description: "cannot start \(path): \(String(cString: strerror(rc)))")
    }
    let status = waitForChild(pid, timeout: timeout)
    return ChildResult(
        status: status,
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

/// `runChild` on a thread of its own, so that the cooperative pool is never blocked by the wait.
public func runChildAsync(
    _ path: String, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil,
    timeout: Duration? = nil
) async throws -> ChildResult {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(
                with: Result {
                    try runChild(path, arguments, environment: environment, input: input, timeout: timeout)
                })
        }
    }
}

/// Waits for `pid` (retrying on EINTR): its exit status, or 128 + the signal that ended it. With a
/// `timeout`, a child still running then is killed (SIGKILL) and reaped.
public func waitForChild(_ pid: pid_t, timeout: Duration? = nil) -> Int32 {
    var status: Int32 = 0
    if let timeout {
        let deadline = ContinuousClock.now + timeout
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid || (done == -1 && errno != EINTR) { break }
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                break
            }
            usleep(10_000)
        }
    } else {
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    }
    let signal = status & 0x7f
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal
}
