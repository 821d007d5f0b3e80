import Foundation
@_exported import ITVTestSupport

/// The repository's root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Where the built `itvd` and `itvctl` are: `$ITV_BIN_DIR` (set by `make test`), else `.build/debug`.
let binDir = ProcessInfo.processInfo.environment["ITV_BIN_DIR"] ?? repositoryRoot + "/.build/debug"

typealias RunResult = ChildResult

/// Runs a built binary to completion and captures its output (posix_spawn and waitpid: see `runBinaryAt`).
func runBinary(_ name: String, _ arguments: [String], environment: [String: String]? = nil) throws -> RunResult {
    try runBinaryAt(binDir + "/" + name, arguments, environment: environment)
}
