import Foundation
import Testing

/// The built `itvd` as a child process on a fleet, and the built `itvctl` pointed at its socket.
///
/// The daemon's directory holds `itvd.yaml`, `pb/` (playbooks), `inventory.yaml` (a copy of the fleet's, so
/// a test may change it), `state/`, `run/itvd.sock`, `itvd.log` (the daemon's stderr, all runs appended) and
/// a copy of `itvctl` that other Unix users can execute.
final class E2EDaemon: @unchecked Sendable {
    let dir: String
    private var process: ServerProcess?
    private let lock = NSLock()
    /// Added to the daemon's environment.
    var environment: [String: String] = [:]

    var config: String { dir + "/itvd.yaml" }
    var socket: String { dir + "/run/itvd.sock" }
    var log: String { dir + "/itvd.log" }
    var inventory: String { dir + "/inventory.yaml" }
    var itvctl: String { dir + "/bin/itvctl" }

    private init(dir: String) { self.dir = dir }

    /// Writes the configuration and playbooks, starts the daemon, runs `body`, stops the daemon whatever happens.
    static func with<T>(
        fleet: E2EFleet, playbooks: [String: String], operators: [String] = ["root"], extraConfig: String = "",
        environment: [String: String] = [:], _ body: (E2EDaemon) async throws -> T
    ) async throws -> T {
        try await with(
            configuration: {
                try $0.prepare(fleet: fleet, playbooks: playbooks, operators: operators, extraConfig: extraConfig)
            }, environment: environment, body)
    }

    /// Starts the daemon on a configuration of the test's own: `write` puts `itvd.yaml` (with `socket:
    /// run/itvd.sock`) and what it names into the daemon's directory. Runs `body`, stops the daemon whatever
    /// happens.
    static func with<T>(
        configuration write: (E2EDaemon) throws -> Void, environment: [String: String] = [:],
        _ body: (E2EDaemon) async throws -> T
    ) async throws -> T {
        let temp = try E2ETempDir()
        let daemon = E2EDaemon(dir: temp.path)
        daemon.environment = environment
        defer {
            daemon.stop()
            withExtendedLifetime(temp) {}  // removed only after the daemon stopped
        }
        let fm = FileManager.default
        // Other Unix users (runuser) must reach the socket and run itvctl.
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: daemon.dir)
        try fm.createDirectory(atPath: daemon.dir + "/bin", withIntermediateDirectories: true)
        try fm.copyItem(atPath: binDir + "/itvctl", toPath: daemon.itvctl)
        try write(daemon)
        try await daemon.start()
        return try await body(daemon)
    }

    func prepare(fleet: E2EFleet, playbooks: [String: String], operators: [String], extraConfig: String)
        throws
    {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/pb", withIntermediateDirectories: true)
        for (id, text) in playbooks {
            try Data(text.utf8).write(to: URL(fileURLWithPath: "\(dir)/pb/\(id).yaml"))
        }
        try fm.copyItem(atPath: fleet.inventory, toPath: inventory)
        let groups = operators.joined(separator: ", ")
        let text = """
            playbooks: pb
            inventory: inventory.yaml
            state: state
            socket: run/itvd.sock
            ssh: {identity: \(fleet.dir)/id_ed25519, known_hosts: \(fleet.dir)/known_hosts, connect_timeout: 5s}
            operators: [\(groups)]
            readers: [\(groups)]
            windows: {evening: {duration: 1h}}
            \(extraConfig)
            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: config))
    }

    /// The daemon's stderr so far (the end of it), for failure messages.
    func logTail(_ characters: Int = 4000) -> String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return String(text.suffix(characters))
    }

    /// Starts `itvd run` and waits (generously) until `itvctl status` answers.
    func start() async throws {
        let environment =
            self.environment.isEmpty
            ? nil : ProcessInfo.processInfo.environment.merging(self.environment) { _, new in new }
        let process = try ServerProcess(
            binDir + "/itvd", ["run", "--config", config, "--log", "stderr"], environment: environment, log: log)
        lock.withLock { self.process = process }
        do {
            try await process.waitUntilReady("answering itvctl status", timeout: .seconds(120)) {
                (try? ctl(["status"]))?.status == 0
            }
        } catch {
            throw E2EFailure(description: "itvd at start: \(error):\n\(logTail())")
        }
    }

    var pid: Int32? { lock.withLock { process.map { $0.isRunning ? $0.pid : nil } ?? nil } }

    /// SIGKILL, and waits until the process is gone.
    func kill9() {
        lock.withLock({ self.process })?.kill9()
        lock.withLock { self.process = nil }
    }

    /// SIGTERM; the exit status when the daemon ended within `timeout` seconds, else nil (it is then killed).
    func stopGracefully(timeout: Double) -> Int32? {
        guard let process = lock.withLock({ self.process }) else { return nil }
        let status = process.stop(grace: .milliseconds(Int64(timeout * 1000)))
        lock.withLock { self.process = nil }
        return status
    }

    /// SIGTERM, then SIGKILL after 20 s.
    func stop() {
        lock.withLock({ self.process })?.stop(grace: .seconds(20))
        lock.withLock { self.process = nil }
    }

    /// Runs the built `itvctl --socket SOCKET ARGS`, as root or (with `runuser`) as `user`.
    func ctl(_ arguments: [String], as user: String? = nil) throws -> RunResult {
        let full = ["--socket", socket] + arguments
        if let user { return try runProgram("/usr/sbin/runuser", ["-u", user, "--", itvctl] + full) }
        return try runProgram(itvctl, full)
    }

    /// `itvctl ARGS` that must exit 0; its stdout.
    @discardableResult
    func ok(_ arguments: [String], as user: String? = nil) throws -> String {
        let r = try ctl(arguments, as: user)
        guard r.status == 0 else {
            throw E2EFailure(
                description: "itvctl \(arguments.joined(separator: " ")) exited \(r.status): \(r.stderr)\(r.stdout)")
        }
        return r.stdout
    }

    func show(_ rid: Int64) throws -> E2ERollout {
        try e2eDecode(E2ERollout.self, try ok(["--json", "rollout", "show", String(rid)]))
    }

    /// `itvctl rollout start APP --version V`; the new rollout's id.
    func startRollout(_ app: String, _ version: String, as user: String? = nil) throws -> Int64 {
        struct Answer: Decodable {
            struct Rollout: Decodable { var id: Int64 }
            var rollout: Rollout
        }
        let text = try ok(["--json", "rollout", "start", app, "--version", version], as: user)
        return try e2eDecode(Answer.self, text).rollout.id
    }

    /// Polls `itvctl --json rollout show` until `condition` holds (3 minutes at most: no timing assertion).
    @discardableResult
    func waitFor(
        _ rid: Int64, _ what: String, timeout: Double = 180, _ condition: (E2ERollout) -> Bool
    ) async throws -> E2ERollout {
        let deadline = Date().addingTimeInterval(timeout)
        var last: E2ERollout?
        while Date() < deadline {
            let detail = try show(rid)
            if condition(detail) { return detail }
            last = detail
            try await Task.sleep(for: .milliseconds(200))
        }
        throw E2EFailure(
            description: "rollout \(rid): not \(what) after \(Int(timeout)) s; last: \(last?.summary ?? "-")\n"
                + logTail())
    }

    /// Waits until the rollout waits for an approval of wave `wave` (0-based).
    @discardableResult
    func waitForApproval(_ rid: Int64, wave: Int) async throws -> E2ERollout {
        try await waitFor(rid, "waiting for approval of wave \(wave + 1)") {
            $0.phase == "waiting_approval" && $0.rollout.currentWave == wave
        }
    }

    @discardableResult
    func waitForPhase(_ rid: Int64, _ phase: String, timeout: Double = 180) async throws -> E2ERollout {
        try await waitFor(rid, phase, timeout: timeout) { $0.phase == phase }
    }
}
