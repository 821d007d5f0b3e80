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
    let pid = try spawnChild(path, arguments, environment: environment, stdin: inPath, stdout: outPath, stderr: errPath)
    let status = waitForChild(pid, timeout: timeout)
    return ChildResult(
        status: status,
        stdout: outputText(outPath), stderr: outputText(errPath))
}

/// What a child wrote to the file `path`, byte for byte as UTF-8 (invalid bytes become U+FFFD; "" when there
/// is no file). Not `String(contentsOfFile:)`: it drops a leading byte order mark, which tests of itvctl's CSV
/// (UTF-8 with BOM) must see, and gives nothing at all for invalid UTF-8.
public func outputText(_ path: String) -> String {
    guard let data = FileManager.default.contents(atPath: path) else { return "" }
    return String(decoding: data, as: UTF8.self)
}

/// Starts `path` with `arguments` (posix_spawn) and returns its PID: standard input from the file `stdin`,
/// standard output to the file `stdout` (made or emptied, or appended to with `append`), standard error to the
/// file `stderr` or, when nil, to the same file as standard output. The child gets no other descriptor of this
/// process, and starts with default signal dispositions and no signal blocked, whatever this thread has (a
/// server must see SIGTERM).
func spawnChild(
    _ path: String, _ arguments: [String], environment: [String: String]?, stdin: String, stdout: String,
    stderr: String?, append: Bool = false
) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    let mode = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
    posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, mode, 0o644)
    if let stderr {
        posix_spawn_file_actions_addopen(&actions, 2, stderr, mode, 0o644)
    } else {
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
    }
    guard let closeFrom = addCloseFrom, closeFrom(&actions, 3) == 0 else {
        throw ChildProcessError(description: "posix_spawn_file_actions_addclosefrom_np is missing (glibc 2.34+)")
    }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t()
    sigemptyset(&none)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &none)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        argv.forEach { free($0) }
        env.forEach { free($0) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, &attributes, argv, env)
    guard rc == 0 else {
        throw ChildProcessError(description: "cannot start \(path): \(String(cString: strerror(rc)))")
    }
    return pid
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np`, which Swift's Glibc module does not declare.
private let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? =
    dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
        unsafeBitCast($0, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
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
