import Foundation
import ITVTestSupport

/// `scripts/feeds/test-server.py` on 127.0.0.1: an HTTPS server (own CA, certificate for IP 127.0.0.1 only)
/// and a plain HTTP one. Stopped by PID in `stop()` (call it in `defer`), its temp directory removed.
final class TestServer: @unchecked Sendable {
    let httpsPort: Int
    let httpPort: Int
    let directory: URL
    private let server: ServerProcess

    struct StartError: Error, CustomStringConvertible { var description: String }

    var caPath: String { directory.appendingPathComponent("ca.pem").path }
    func https(_ path: String) -> String { "https://127.0.0.1:\(httpsPort)\(path)" }
    func http(_ path: String, host: String = "127.0.0.1") -> String { "http://\(host):\(httpPort)\(path)" }

    init() throws {
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

    func stop() {
        server.stop(grace: .seconds(5))
        try? FileManager.default.removeItem(at: directory)
    }

    struct Stats: Decodable {
        var counts: [String: Int]
        var max_concurrent: [String: Int]
        var agents: [String]
    }

    /// What the server saw (read with curl's own client, independent of the code under test).
    func stats() throws -> Stats {
        let r = try runChild("/usr/bin/curl", ["-s", "--max-time", "10", http("/stats")], timeout: .seconds(30))
        return try JSONDecoder().decode(Stats.self, from: Data(r.stdout.utf8))
    }
}
