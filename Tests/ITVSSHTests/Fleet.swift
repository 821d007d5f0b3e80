import Foundation
import ITVEngine
import ITVSSH
import Logging
import Synchronization
import Testing

/// A fleet of real sshd processes started by `scripts/fleet.sh` for one test, always stopped afterwards.
struct Fleet: Sendable {
    let dir: String
    let base: String
    let count: Int

    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Distinct loopback ranges so that tests running in parallel do not collide.
    private static let counter = Mutex(0)

    static func nextBase() -> String {
        let n = counter.withLock { value -> Int in
            value += 1
            return value
        }
        return "127.0.\(20 + n)"
    }

    var knownHosts: String { dir + "/known_hosts" }
    var identity: String { dir + "/id_ed25519" }

    func name(_ i: Int) -> String { String(format: "fleet-%03d", i) }

    func host(_ i: Int) -> RemoteHost {
        RemoteHost(name: name(i), address: "\(base).\(i)", port: i % 10 == 3 ? 2222 : 22, user: "root")
    }

    var hosts: [RemoteHost] { (1...count).map(host) }

    func configuration(
        connectTimeout: Duration = .seconds(20), outputCap: Int = 1 << 20, parallel: Int = 64,
        knownHosts: String? = nil
    ) -> SSHExecutorConfiguration {
        SSHExecutorConfiguration(
            identityFile: identity, knownHostsFile: knownHosts ?? self.knownHosts, connectTimeout: connectTimeout,
            outputCap: outputCap, parallel: parallel)
    }

    func switchHost(_ i: Int, _ what: String, _ state: String = "on") throws {
        try Self.script(["switch", dir, name(i), what, state])
    }

    /// The public key fingerprint of host `i`'s current host key, as `ssh-keygen -l` prints it.
    func hostKeyFingerprint(_ i: Int) throws -> String {
        let output = try Self.run(
            "/usr/bin/ssh-keygen", ["-l", "-f", "\(dir)/hosts/\(name(i))/ssh_host_ed25519_key.pub"])
        return String(output.split(separator: " ")[1])
    }

    func sshdLog(_ i: Int) -> String {
        (try? String(contentsOfFile: "\(dir)/hosts/\(name(i))/sshd.log", encoding: .utf8)) ?? ""
    }

    /// Starts `count` hosts, runs `body`, stops the fleet whatever happens.
    static func with<T>(_ count: Int, _ body: (Fleet) async throws -> T) async throws -> T {
        let dir = try run("/usr/bin/mktemp", ["-d", "/tmp/itv-fleet-test.XXXXXX"]).trimmingCharacters(
            in: .whitespacesAndNewlines)
        let fleet = Fleet(dir: dir, base: nextBase(), count: count)
        defer {
            try? script(["stop", dir])
            try? FileManager.default.removeItem(atPath: dir)
        }
        try script(["start", String(count), dir, fleet.base])
        return try await body(fleet)
    }

    static func script(_ arguments: [String]) throws {
        _ = try run("/bin/bash", [repoRoot + "/scripts/fleet.sh"] + arguments)
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FleetError(
                message: "\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

struct FleetError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
