import Foundation
@_exported import ITVTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// What a finished command printed and how it ended.
typealias CommandResult = ChildResult

enum TestSupportError: Error, CustomStringConvertible {
    case failed(String)
    var description: String {
        switch self {
        case .failed(let message): message
        }
    }
}

/// Runs a program to completion without blocking the cooperative pool (ITVTestSupport's child runner); a
/// program still running after `timeout` is killed by PID.
func run(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    timeout: Duration = .seconds(120)
) async throws -> CommandResult {
    try await runChildAsync(executable, arguments, environment: environment, timeout: timeout)
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
