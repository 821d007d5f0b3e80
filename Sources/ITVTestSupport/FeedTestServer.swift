import Foundation

/// `scripts/feeds/test-server.py` on 127.0.0.1 (the feed tests' and the end-to-end artifact tests' vendor): an
/// HTTPS server (own CA, certificate for IP 127.0.0.1 only) and a plain HTTP one. Stopped by PID in `stop()`
/// (call it in `defer`), its temp directory removed. Files to serve go to `directory/files/NAME`.
public final class TestServer: @unchecked Sendable {
    public let httpsPort: Int
    public let httpPort: Int
    public let directory: URL
    private let server: ServerProcess

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public var caPath: String { directory.appendingPathComponent("ca.pem").path }
    public func https(_ path: String) -> String { "https://127.0.0.1:\(httpsPort)\(path)" }
    public func http(_ path: String, host: String = "127.0.0.1") -> String { "http://\(host):\(httpPort)\(path)" }

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("itv-feeds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            server = try ServerProcess.python("scripts/feeds/test-server.py", [directory.path])
            let ports = try server.readyPorts(2)
            httpsPort = ports[0]
            httpPort = ports[1]
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    public func stop() {
        server.stop(grace: .seconds(5))
        try? FileManager.default.removeItem(at: directory)
    }

    public struct Stats: Decodable {
        public var counts: [String: Int]
        public var max_concurrent: [String: Int]
        public var agents: [String]
    }

    /// What the server saw (read with curl's own client, independent of the code under test).
    public func stats() throws -> Stats {
        let r = try runChild("/usr/bin/curl", ["-s", "--max-time", "10", http("/stats")], timeout: .seconds(30))
        return try JSONDecoder().decode(Stats.self, from: Data(r.stdout.utf8))
    }
}
