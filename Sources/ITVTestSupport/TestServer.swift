import Foundation

/// `scripts/feeds/test-server.py` on 127.0.0.1: an HTTPS server (own CA, certificate for IP 127.0.0.1 only)
/// and a plain HTTP one. Stopped by PID in `stop()` (call it in `defer`), its temp directory removed. The
/// feed, artifact and daemon tests share it: files to serve go to `directory/files/NAME`.
public final class TestServer: @unchecked Sendable {
    public let httpsPort: Int
    public let httpPort: Int
    public let directory: URL
    private let process: Process

    public var caPath: String { directory.appendingPathComponent("ca.pem").path }
    public func https(_ path: String) -> String { "https://127.0.0.1:\(httpsPort)\(path)" }
    public func http(_ path: String, host: String = "127.0.0.1") -> String { "http://\(host):\(httpPort)\(path)" }

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public init() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("itv-feeds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [repo.appendingPathComponent("scripts/feeds/test-server.py").path, directory.path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        let deadline = Date().addingTimeInterval(60)
        while !line.contains(0x0A), Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let ports = String(decoding: line, as: UTF8.self).split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard ports.count == 2 else {
            kill(process.processIdentifier, SIGKILL)
            try? FileManager.default.removeItem(at: directory)
            throw StartError(description: "the test server did not start")
        }
        httpsPort = ports[0]
        httpPort = ports[1]
    }

    public func stop() {
        let pid = process.processIdentifier
        if process.isRunning {
            kill(pid, SIGTERM)
            for _ in 0..<50 where process.isRunning { usleep(100_000) }
            if process.isRunning { kill(pid, SIGKILL) }
            for _ in 0..<50 where process.isRunning { usleep(100_000) }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    public struct Stats: Decodable {
        public var counts: [String: Int]
        public var max_concurrent: [String: Int]
        public var agents: [String]
    }

    /// What the server saw (read with curl's own client, independent of the code under test).
    public func stats() throws -> Stats {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", "--max-time", "10", http("/stats")]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return try JSONDecoder().decode(Stats.self, from: data)
    }
}
