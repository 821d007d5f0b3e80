import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What a finished command printed and how it ended.
struct CommandResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum TestSupportError: Error, CustomStringConvertible {
    case failed(String)
    var description: String {
        switch self {
        case .failed(let message): message
        }
    }
}

/// Runs a program to completion without blocking the cooperative pool: output goes to files, the end is
/// awaited through the termination handler, and a program still running after `timeout` is killed by PID.
func run(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    timeout: Duration = .seconds(120)
) async throws -> CommandResult {
    let dir = try TemporaryDirectory()
    let outURL = URL(fileURLWithPath: dir.path + "/stdout")
    let errURL = URL(fileURLWithPath: dir.path + "/stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
            return
        }
        let pid = process.processIdentifier
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: Double(timeout.components.seconds))
            if process.isRunning { kill(pid, SIGKILL) }
        }
    }
    try out.close()
    try err.close()
    return CommandResult(
        status: status,
        stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
    )
}

/// A `mktemp -d` directory removed when the value goes away.
final class TemporaryDirectory: @unchecked Sendable {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/itv-systemd-test.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw TestSupportError.failed("mkdtemp failed: \(errno)") }
        path = String(cString: made)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The package root, from this file's path (Tests/ITVSystemdTests/Support.swift).
let packageRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Where the built itvd and itvctl are: `ITV_BIN_DIR` (set by `make test`), else `.build/debug`.
func builtBinDir() throws -> String {
    let candidates = [ProcessInfo.processInfo.environment["ITV_BIN_DIR"], packageRoot + "/.build/debug"]
    for case let dir? in candidates
    where FileManager.default.isExecutableFile(atPath: dir + "/itvd")
        && FileManager.default.isExecutableFile(atPath: dir + "/itvctl")
    {
        return dir
    }
    throw TestSupportError.failed("no built itvd and itvctl in ITV_BIN_DIR or .build/debug: run swift build")
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; the last value.
func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

/// A pipe whose ends are closed when the value goes away.
final class Pipe2: @unchecked Sendable {
    let readFD: Int32
    let writeFD: Int32

    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TestSupportError.failed("pipe failed: \(errno)") }
        readFD = fds[0]
        writeFD = fds[1]
    }

    /// Everything readable now, without blocking.
    func readAvailable() -> String {
        let flags = fcntl(readFD, F_GETFL)
        _ = fcntl(readFD, F_SETFL, flags | O_NONBLOCK)
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(readFD, &buffer, buffer.count)
            if count <= 0 { break }
            data.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: data, as: UTF8.self)
    }

    deinit {
        close(readFD)
        close(writeFD)
    }
}
