import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A daemon's directory as an operator lays it out: `itvd.yaml` with paths relative to it, playbooks in `pb/`,
/// the store in `state/`, the control socket at `run/itvd.sock`, and inventory and SSH keys in `fleet/`
/// (written by `scripts/fleet.sh`, or by `writeOfflineInventory` for tests that never connect to a host).
final class DaemonDirectory: @unchecked Sendable {
    private let directory: TempDir
    var root: String { directory.path }
    var config: String { root + "/itvd.yaml" }
    var socket: String { root + "/run/itvd.sock" }
    var fleet: String { root + "/fleet" }
    var itvd: String { binDir + "/itvd" }
    var itvctl: String { binDir + "/itvctl" }

    init() throws {
        directory = try TempDir()
        try directory.write(
            "itvd.yaml",
            """
            playbooks: pb
            inventory: fleet/inventory.yaml
            state: state
            socket: run/itvd.sock
            ssh: {identity: fleet/id_ed25519, known_hosts: fleet/known_hosts, connect_timeout: 5s}
            windows: {evening: {duration: 1h}}

            """)
        for sub in ["pb", "run"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
    }

    /// Writes `pb/NAME.yaml`.
    func writePlaybook(_ name: String, _ text: String) throws {
        try directory.write("pb/\(name).yaml", text)
    }

    /// An inventory of `count` hosts in group `fleet` at TEST-NET addresses that nothing answers on, and empty
    /// key files: for tests in which no rollout runs.
    func writeOfflineInventory(count: Int = 3) throws {
        var text = "tenants: {fleet: {name: Fleet}}\nhosts:\n"
        for i in 1...count {
            text +=
                "  \(String(format: "fleet-%03d", i)): {address: 192.0.2.\(i), user: root, tenant: fleet, "
                + "groups: [fleet], os: linux}\n"
        }
        try directory.write("fleet/inventory.yaml", text)
        try directory.write("fleet/id_ed25519", "")
        try directory.write("fleet/known_hosts", "")
    }

    /// `itvd run --config itvd.yaml --log LOG` started through `launcher` (a command that ends by exec'ing
    /// the daemon, so that the process keeps its PID), with `environment` added.
    func startDaemon(log: String = "stderr", launcher: [String] = [], environment: [String: String] = [:])
        throws -> ServerProcess
    {
        let command = launcher + [itvd, "run", "--config", config, "--log", log]
        return try ServerProcess(command[0], Array(command.dropFirst()), environment: childEnvironment(environment))
    }

    /// `itvctl --socket run/itvd.sock ARGUMENTS`.
    func ctl(_ arguments: String...) async throws -> RunResult {
        try await runTool(itvctl, ["--socket", socket] + arguments)
    }

    /// `itvctl --socket run/itvd.sock --json ARGUMENTS`, which must succeed, as a JSON object.
    func ctlJSON(_ arguments: String...) async throws -> [String: Any] {
        let result = try await runTool(itvctl, ["--socket", socket, "--json"] + arguments)
        guard result.status == 0,
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        else {
            throw SystemdTestError(
                "itvctl \(arguments.joined(separator: " ")) exited \(result.status): \(result.stdout) \(result.stderr)")
        }
        return object
    }

    /// The rollout `rid` as `itvctl rollout show --json` gives it.
    func rollout(_ rid: String) async throws -> RolloutView {
        RolloutView(try await ctlJSON("rollout", "show", rid))
    }

    /// What the fleet host `name` has in its `/opt/itv-host/app`, or nil when there is no such file.
    func installed(on name: String) -> String? {
        (try? String(contentsOfFile: fleet + "/hosts/\(name)/root/app", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// The parts of `itvctl rollout show --json` the tests look at.
struct RolloutView: CustomStringConvertible {
    let json: [String: Any]
    init(_ json: [String: Any]) { self.json = json }

    var rollout: [String: Any] { json["rollout"] as? [String: Any] ?? [:] }
    var phase: String { rollout["phase"] as? String ?? "?" }
    var hostPhases: [String: String] {
        var phases: [String: String] = [:]
        for run in json["host_runs"] as? [[String: Any]] ?? [] {
            if let host = run["host"] as? String { phases[host] = run["phase"] as? String ?? "?" }
        }
        return phases
    }
    var approvalSources: [String] {
        (json["approvals"] as? [[String: Any]] ?? []).compactMap { $0["source"] as? String }
    }
    var description: String {
        (try? String(decoding: JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self))
            ?? "\(json)"
    }
}

/// The loopback SSH fleet of `scripts/fleet.sh` for these tests: base 127.0.70 (127.0.60-69 are another test
/// area's), in the daemon directory's `fleet/`, stopped whatever the body does. The suites that use it are
/// serialized, so that one fleet at a time holds the addresses.
enum SystemdFleet {
    static let base = "127.0.70"

    static func with<T>(_ count: Int, in daemon: DaemonDirectory, _ body: () async throws -> T) async throws -> T {
        let script = repositoryRoot + "/scripts/fleet.sh"
        let started = try await runTool("/bin/bash", [script, "start", String(count), daemon.fleet, base])
        guard started.status == 0 else {
            _ = try? await runTool("/bin/bash", [script, "stop", daemon.fleet])
            throw SystemdTestError("fleet.sh start failed: \(started.stderr)")
        }
        do {
            let result = try await body()
            _ = try await runTool("/bin/bash", [script, "stop", daemon.fleet])
            return result
        } catch {
            _ = try? await runTool("/bin/bash", [script, "stop", daemon.fleet])
            throw error
        }
    }
}

/// Runs `body` with `daemon` and stops the daemon by its PID afterwards, also when `body` throws.
func withDaemon<T>(_ daemon: ServerProcess, _ body: (ServerProcess) async throws -> T) async throws -> T {
    do {
        let result = try await body(daemon)
        await daemon.terminate()
        return result
    } catch {
        await daemon.terminate()
        throw error
    }
}

/// A playbook of procedure `id` for the fleet: it writes the version to `/opt/itv-host/app`. `install` can be
/// replaced (to make some hosts fail); `waves` and `window` are the rollout's.
func fleetPlaybook(
    _ id: String, name: String = "Test app", waves: [String], window: String? = "evening",
    install: String = "echo {{version}} > /opt/itv-host/app", maxFailures: Int = 0
) -> String {
    var text = """
        apiVersion: itv/v1
        id: \(id)
        name: \(name)
        vendor: itv tests
        targets: [fleet]
        steps:
          detect: cat /opt/itv-host/app 2>/dev/null || true
          install: \(install)
          verify: grep -qx {{version}} /opt/itv-host/app
          timeout: 1m
        rollout:
          max_failures: \(maxFailures)
          waves:

        """
    for wave in waves { text += "    - \(wave)\n" }
    if let window { text += "  window: \(window)\n" }
    return text
}
