import Foundation

/// The repository's root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Where the built `itvd` and `itvctl` are: `$ITV_BIN_DIR` (set by `make test`), else `.build/debug`.
let binDir = ProcessInfo.processInfo.environment["ITV_BIN_DIR"] ?? repositoryRoot + "/.build/debug"

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a built binary to completion and captures its output (posix_spawn and waitpid: see `runBinaryAt`).
func runBinary(_ name: String, _ arguments: [String], environment: [String: String]? = nil) throws -> RunResult {
    try runBinaryAt(binDir + "/" + name, arguments, environment: environment)
}

/// A temporary directory removed when the value is released.
final class TempDir: @unchecked Sendable {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("itv-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func write(_ relative: String, _ text: String) throws -> String {
        let file = (path as NSString).appendingPathComponent(relative)
        try FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }
}
