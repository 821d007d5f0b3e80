import Foundation
import Testing

// End-to-end harness: a fleet of real sshd hosts with the fake vendor installer, the built `itvd` as a child
// process, and the built `itvctl` to drive it. Nothing here links the daemon's libraries: the wire documents
// are decoded into the small structs below, so a change of the documented JSON breaks these tests too.

/// Every end-to-end suite, one after the other: each starts a 12-host fleet and a daemon, and running them
/// side by side only loads the machine (other test targets run meanwhile).
@Suite("End to end: the built itvd and itvctl on the SSH fleet", .serialized)
struct E2ETests {}

/// What `itvctl --json rollout show RID` prints, as far as the tests read it.
struct E2ERollout: Decodable {
    struct Info: Decodable {
        var id: Int64
        var phase: String
        var currentWave: Int
        var planHash: String
        var reason: String?
    }
    struct Wave: Decodable {
        var index: Int
        var name: String
        var phase: String
        var approvalsNeeded: Int
        var approvalsGiven: Int
        var hosts: [String]
    }
    struct Approval: Decodable, Equatable {
        var wave: Int
        var source: String
        var user: String
        var uid: UInt32
        var comment: String?
        var planHash: String
    }
    struct HostRun: Decodable {
        var host: String
        var wave: Int
        var phase: String
        var step: String?
        var previous: String?
        var errorKind: String?
        var error: String?
    }
    var rollout: Info
    var waves: [Wave]
    var approvals: [Approval]
    var hostRuns: [HostRun]

    var phase: String { rollout.phase }
    func run(_ host: String) -> HostRun? { hostRuns.first { $0.host == host } }
    func hosts(in phase: String) -> [String] { hostRuns.filter { $0.phase == phase }.map(\.host).sorted() }

    /// One line per host, for failure messages.
    var summary: String {
        "rollout \(rollout.id) \(phase) wave \(rollout.currentWave + 1) reason \(rollout.reason ?? "-"): "
            + hostRuns.map { "\($0.host)=\($0.phase)\($0.error.map { "(\($0))" } ?? "")" }.joined(separator: " ")
    }
}

/// `{"error": {"kind": ..., "message": ...}}`, printed by `itvctl --json` when the daemon refused.
struct E2EError: Decodable {
    struct Body: Decodable {
        var kind: String
        var message: String
    }
    var error: Body
}

struct E2EFailure: Error, CustomStringConvertible {
    var description: String
}

func e2eDecode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    do {
        return try decoder.decode(type, from: Data(text.utf8))
    } catch {
        throw E2EFailure(description: "cannot decode \(type) from itvctl output: \(error)\n\(text)")
    }
}

/// Runs a command (full path) to completion; killed (SIGKILL) when it runs longer than `timeout` seconds.
func runProgram(_ path: String, _ arguments: [String], timeout: Double = 300) throws -> RunResult {
    try runChild(path, arguments, timeout: .milliseconds(Int64(timeout * 1000)))
}

/// A directory of the end-to-end tests, removed when the value is released.
typealias E2ETempDir = TempDir

/// The fleet side: `scripts/fleet.sh` hosts with `fake-installer` in each host's `/opt/itv-host/bin`.
struct E2EFleet: Sendable {
    let dir: String
    let count: Int

    var inventory: String { dir + "/inventory.yaml" }
    var hostNames: [String] { (1...count).map(name) }
    func name(_ i: Int) -> String { String(format: "fleet-%03d", i) }
    func root(_ host: String) -> String { "\(dir)/hosts/\(host)/root" }

    /// Starts `count` hosts on `base` (distinct per suite), runs `body`, stops the fleet whatever happens.
    static func with<T>(_ count: Int, base: String, _ body: (E2EFleet) async throws -> T) async throws -> T {
        let dir = try E2ETempDir()
        defer { try? ProbeFleet.script(["stop", dir.path]) }
        try ProbeFleet.script(["start", String(count), dir.path, base])
        let fleet = E2EFleet(dir: dir.path, count: count)
        let installer = repositoryRoot + "/scripts/fleet-app/fake-installer"
        for host in fleet.hostNames {
            let bin = fleet.root(host) + "/bin"
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: installer, toPath: bin + "/fake-installer")
        }
        return try await body(fleet)  // `dir` lives on in the defer above
    }

    func file(_ host: String, _ name: String) -> String { root(host) + "/" + name }

    func setVersion(_ host: String, _ app: String, _ version: String) throws {
        try Data((version + "\n").utf8).write(to: URL(fileURLWithPath: file(host, "version-\(app)")))
    }

    func version(_ host: String, _ app: String) -> String? {
        guard let data = FileManager.default.contents(atPath: file(host, "version-\(app)")) else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The host's ledger: one `(kind, version)` per install or rollback that changed it.
    func ledger(_ host: String, _ app: String) -> [(kind: String, version: String)] {
        guard let data = FileManager.default.contents(atPath: file(host, "ledger-\(app)")) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count >= 2 ? (String(fields[0]), String(fields[1])) : nil
        }
    }

    func installs(_ host: String, _ app: String, of version: String) -> Int {
        ledger(host, app).filter { $0.kind == "install" && $0.version == version }.count
    }

    /// Sets or clears a marker file of the fake installer (`fail-APP`, `slow-APP`).
    func marker(_ host: String, _ name: String, _ content: String?) throws {
        let path = file(host, name)
        if let content {
            try Data(content.utf8).write(to: URL(fileURLWithPath: path))
        } else if FileManager.default.fileExists(atPath: path) {
            try FileManager.default.removeItem(atPath: path)
        }
    }

    /// Whether an install or rollback still runs on the host (its `busy-APP` names a live process).
    func busy(_ host: String, _ app: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: file(host, "busy-\(app)")) else { return false }
        let pid = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return !pid.isEmpty && FileManager.default.fileExists(atPath: "/proc/\(pid)")
    }
}

/// A playbook from `scripts/fleet-app/fake-app.yaml.in`.
func fakeAppPlaybook(
    id: String, waves: [String], maxFailures: String = "0", onFailure: String = "halt", idempotent: Bool = false,
    window: String? = nil
) throws -> String {
    let template = try String(contentsOfFile: repositoryRoot + "/scripts/fleet-app/fake-app.yaml.in", encoding: .utf8)
    return template.replacingOccurrences(of: "@WAVES@", with: waves.map { "    - " + $0 }.joined(separator: "\n"))
        .replacingOccurrences(of: "@ID@", with: id)
        .replacingOccurrences(of: "@MAX_FAILURES@", with: maxFailures)
        .replacingOccurrences(of: "@ON_FAILURE@", with: onFailure)
        .replacingOccurrences(of: "@IDEMPOTENT@", with: idempotent ? "true" : "false")
        .replacingOccurrences(of: "@WINDOW@", with: window.map { "  window: \($0)" } ?? "")
}
