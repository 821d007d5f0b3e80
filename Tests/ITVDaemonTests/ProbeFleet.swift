import Foundation

/// A fleet of real sshd processes (`scripts/fleet.sh`) for the probe tests, always stopped afterwards.
struct ProbeFleet: Sendable {
    let dir: String
    let base: String

    private static let counter = ProbeCounter()

    var inventory: String { dir + "/inventory.yaml" }
    var knownHosts: String { dir + "/known_hosts" }
    var identity: String { dir + "/id_ed25519" }

    func name(_ i: Int) -> String { String(format: "fleet-%03d", i) }

    func switchHost(_ i: Int, _ what: String, _ state: String = "on") throws {
        try Self.script(["switch", dir, name(i), what, state])
    }

    /// Starts `count` hosts on a loopback range of their own, runs `body`, stops the fleet whatever happens.
    static func with<T>(_ count: Int, _ body: (ProbeFleet) async throws -> T) async throws -> T {
        let dir = try TempDir()
        let fleet = ProbeFleet(dir: dir.path, base: "127.0.\(120 + counter.next())")
        defer { try? script(["stop", dir.path]) }
        try script(["start", String(count), dir.path, fleet.base])
        return try await body(fleet)
    }

    static func script(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [repositoryRoot + "/scripts/fleet.sh"] + arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ProbeFleetError(description: "fleet.sh \(arguments.joined(separator: " ")) failed")
        }
    }
}

struct ProbeFleetError: Error, CustomStringConvertible {
    var description: String
}

final class ProbeCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
