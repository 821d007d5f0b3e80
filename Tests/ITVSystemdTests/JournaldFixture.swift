import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A journald for the tests: the one already listening on /run/systemd/journal/socket, or a standalone
/// `/lib/systemd/systemd-journald` started for the duration of `body` and stopped by its PID afterwards.
/// What the standalone one created (/run/systemd/journal, /run/log/journal) is removed only if it did not
/// exist before. Tests using it belong to one `.serialized` suite.
enum JournaldFixture {
    static let socket = "/run/systemd/journal/socket"
    static let binary = "/lib/systemd/systemd-journald"

    static func with<T>(_ body: () async throws -> T) async throws -> T {
        let fileManager = FileManager.default
        if acceptsDatagrams(socket) { return try await body() }
        guard fileManager.isExecutableFile(atPath: binary) else {
            throw TestSupportError.failed("\(binary) is missing: apt-get install systemd")
        }
        let created = ["/run/systemd/journal", "/run/log/journal"].filter { !fileManager.fileExists(atPath: $0) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in
            exited.continuation.yield()
            exited.continuation.finish()
        }
        try process.run()
        let pid = process.processIdentifier
        func stop() async {
            kill(pid, SIGTERM)
            for await _ in exited.stream { break }
            for path in created { try? fileManager.removeItem(atPath: path) }
        }
        let listening = await eventually { acceptsDatagrams(socket) || !process.isRunning }
        guard listening, process.isRunning else {
            await stop()
            throw TestSupportError.failed("standalone journald did not create \(socket)")
        }
        do {
            let result = try await body()
            await stop()
            return result
        } catch {
            await stop()
            throw error
        }
    }

    /// Whether something listens on the datagram socket at `path` (a stale socket file refuses connections).
    static func acceptsDatagrams(_ path: String) -> Bool {
        guard let fd = try? connectUnixSocket(path, type: Int32(SOCK_DGRAM.rawValue)) else { return false }
        close(fd)
        return true
    }

    /// The entries `journalctl -o json MATCH...` prints, one dictionary per entry.
    static func entries(matching matches: [String]) async throws -> [[String: Any]] {
        let result = try await run("/usr/bin/journalctl", ["--no-pager", "-o", "json"] + matches)
        guard result.status == 0 || result.stdout.isEmpty else {
            throw TestSupportError.failed("journalctl failed: \(result.stderr)")
        }
        return result.stdout.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }
}
