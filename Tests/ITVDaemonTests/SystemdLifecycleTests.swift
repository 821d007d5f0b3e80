import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built `itvd run` as systemd runs it (`Type=notify`, `WatchdogSec=`, `ExecReload=`, socket activation),
/// with a notification socket of the test's own and no systemd.
@Suite("itvd under systemd: notify, watchdog, reload, socket activation")
struct SystemdLifecycleTests {
    static let playbook = fleetPlaybook("app", waves: ["{name: all, size: rest, approval: window}"])

    func daemonDirectory() throws -> DaemonDirectory {
        let daemon = try DaemonDirectory()
        try daemon.writeOfflineInventory()
        try daemon.writePlaybook("app", Self.playbook)
        return daemon
    }

    @Test("READY, STATUS, WATCHDOG, RELOADING/READY on SIGHUP and STOPPING on SIGTERM, in order; exit 0")
    func notifyLifecycle() async throws {
        let dir = try daemonDirectory()
        let notify = try NotifySocket()
        // As systemd: WATCHDOG_PID is the service's main PID (the shell execs itvd, keeping its PID).
        let process = try dir.startDaemon(
            launcher: ["/bin/sh", "-c", "WATCHDOG_PID=$$; export WATCHDOG_PID; exec \"$0\" \"$@\""],
            environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"])
        let exit: Int32? = try await withDaemon(process) { daemon in
            let pid = daemon.pid
            let ready = await notify.waitFor(from: pid, timeout: .seconds(120)) { $0.hasPrefix("READY=1") }
            try #require(ready != nil, "no READY=1; stderr: \(daemon.stderr)")
            let first = try #require(ready?.first { $0.hasPrefix("READY=1") })
            #expect(first == "READY=1\nSTATUS=0 rollouts active, 0 waiting for an operator, no window open")

            // STATUS= follows what changes: a window opens.
            let open = try await dir.ctl("window", "open", "evening")
            #expect(open.status == 0, "\(open.stderr)")
            let statusSent = await notify.waitFor(from: pid) {
                $0.hasPrefix("STATUS=") && $0.contains("window evening open")
            }
            #expect(statusSent != nil, "\(notify.messages(from: pid))")

            // The watchdog pings at half of WATCHDOG_USEC while the engine is alive.
            let pinged = await notify.waitFor(from: pid) { $0 == "WATCHDOG=1" }
            #expect(pinged != nil, "\(notify.messages(from: pid))")

            // SIGHUP (ExecReload=): RELOADING=1, then READY=1, then STATUS= with the summary again.
            let before = notify.messages(from: pid).count
            daemon.signal(SIGHUP)
            let reloaded = await waitUntil(.seconds(60)) {
                let since = notify.messages(from: pid).dropFirst(before).filter { $0 != "WATCHDOG=1" }
                return Self.isSubsequence(["RELOADING", "READY", "STATUS"], of: since.map(Self.kind))
                    && since.last?.hasPrefix("STATUS=") == true && since.last?.contains("window evening open") == true
            }
            #expect(reloaded, "\(notify.messages(from: pid))")

            daemon.signal(SIGTERM)
            let stopping = await notify.waitFor(from: pid) { $0 == "STOPPING=1" }
            #expect(stopping != nil, "\(notify.messages(from: pid))")
            let status = await daemon.waitForExit(.seconds(60))

            // The order, leaving out the watchdog pings.
            let all = notify.messages(from: pid)
            let lifecycle = all.filter { $0 != "WATCHDOG=1" }.map(Self.kind)
            #expect(
                Self.isSubsequence(
                    ["READY", "STATUS", "RELOADING", "READY", "STATUS", "STOPPING"], of: lifecycle),
                "\(all)")
            let firstPing = all.firstIndex(of: "WATCHDOG=1") ?? -1
            #expect(firstPing > (all.firstIndex { $0.hasPrefix("READY=1") } ?? Int.max))
            #expect(all.last { $0 != "WATCHDOG=1" } == "STOPPING=1", "\(all)")
            #expect(daemon.stderr.contains("ready"), "the stderr log: \(daemon.stderr)")
            return status
        }
        #expect(exit == 0, "itvd did not exit 0 within 60 s after SIGTERM: \(String(describing: exit))")
    }

    @Test("under systemd-socket-activate, itvd takes the passed socket and itvctl reaches it")
    func socketActivation() async throws {
        let dir = try daemonDirectory()
        let notify = try NotifySocket()
        // systemd-socket-activate binds and listens at the path, waits for the first connection, then execs
        // itvd with LISTEN_FDS=1 and LISTEN_PID (and only the variables given with -E).
        let process = try ServerProcess(
            "/usr/bin/systemd-socket-activate",
            [
                "-l", dir.socket, "-E", "NOTIFY_SOCKET=\(notify.path)", dir.itvd, "run", "--config", dir.config,
                "--log", "stderr",
            ],
            environment: childEnvironment())
        try await withDaemon(process) { daemon in
            let listening = await waitUntil(.seconds(30)) { Self.inode(dir.socket) != nil }
            try #require(listening, "systemd-socket-activate did not make \(dir.socket): \(daemon.stderr)")
            let inode = Self.inode(dir.socket)

            // The first connection starts the daemon, which then answers it.
            let status = try await dir.ctl("status")
            #expect(status.status == 0, "\(status.stderr) \(daemon.stderr)")
            #expect(status.stdout.hasPrefix("itvd "), "\(status.stdout)")
            #expect(status.stdout.contains("procedures: 1  hosts: 3"), "\(status.stdout)")
            let ready = await notify.waitFor(from: daemon.pid) { $0.hasPrefix("READY=1") }
            #expect(ready != nil, "no READY=1 from the exec'd itvd: \(daemon.stderr)")
            // The socket is still the one systemd made: itvd did not bind one of its own.
            #expect(Self.inode(dir.socket) == inode)
            let again = try await dir.ctl("procedure", "list")
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdout.contains("app"))

            daemon.signal(SIGTERM)
            #expect(await daemon.waitForExit(.seconds(60)) == 0, "\(daemon.stderr)")
            // The socket belongs to systemd (itvd.socket): a stopped itvd leaves it for the next activation.
            #expect(Self.inode(dir.socket) == inode)
        }
    }

    @Test("a reload with a broken playbook exits 1 with file:line:column, keeps the last good set; a fixed one works")
    func brokenReload() async throws {
        let dir = try daemonDirectory()
        let notify = try NotifySocket()
        let process = try dir.startDaemon(environment: ["NOTIFY_SOCKET": notify.path])
        try await withDaemon(process) { daemon in
            let ready = await notify.waitFor(from: daemon.pid, timeout: .seconds(120)) { $0.hasPrefix("READY=1") }
            try #require(ready != nil, "no READY=1; stderr: \(daemon.stderr)")
            let before = try await Self.procedures(dir)
            #expect(before == ["app": "Test app"])

            // A new good playbook, and the old one broken on line 14 (the waves' approval kind).
            try dir.writePlaybook(
                "other", fleetPlaybook("other", name: "Other app", waves: ["{name: all, size: rest}"]))
            try dir.writePlaybook(
                "app",
                fleetPlaybook("app", name: "Renamed app", waves: ["{name: all, size: rest, approval: sometimes}"]))
            let refused = try await dir.ctl("reload")
            #expect(refused.status == 1, "\(refused.stdout) \(refused.stderr)")
            #expect(
                refused.stdout.split(separator: "\n").map(String.init) == [
                    "reload refused; the last good playbooks and inventory keep running:",
                    "  " + dir.root + "/pb/app.yaml:14:41: wave 'all' approval must be one of auto, operator, window, "
                        + "found 'sometimes'",
                ], "\(refused.stdout)")
            #expect(refused.stderr.contains("reload found 1 problem(s)"), "\(refused.stderr)")
            #expect(try await Self.procedures(dir) == before)

            // Fixed: both playbooks are taken.
            try dir.writePlaybook("app", fleetPlaybook("app", name: "Renamed app", waves: ["{name: all, size: rest}"]))
            let fixed = try await dir.ctl("reload")
            #expect(fixed.status == 0, "\(fixed.stdout) \(fixed.stderr)")
            #expect(fixed.stdout.contains("reloaded: 2 procedures, 3 hosts"), "\(fixed.stdout)")
            #expect(try await Self.procedures(dir) == ["app": "Renamed app", "other": "Other app"])
        }
    }

    @Test("with --log automatic and no journal socket, itvd logs to stderr, one line per entry with its fields")
    func stderrWithoutAJournal() async throws {
        let dir = try daemonDirectory()
        let notify = try NotifySocket()
        // A private, empty /run: no journald socket, whatever runs on the machine (unshare and sh exec: same PID).
        let process = try dir.startDaemon(
            log: "automatic",
            launcher: [
                "/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                "mount -t tmpfs -o mode=0755 itv-test-run /run && exec \"$0\" \"$@\"",
            ],
            environment: ["NOTIFY_SOCKET": notify.path])
        try await withDaemon(process) { daemon in
            let ready = await notify.waitFor(from: daemon.pid, timeout: .seconds(120)) { $0.hasPrefix("READY=1") }
            try #require(ready != nil, "no READY=1; stderr: \(daemon.stderr)")
            let opened = try await dir.ctl("window", "open", "evening")
            #expect(opened.status == 0, "\(opened.stderr)")
            let logged = await waitUntil(.seconds(30)) { daemon.stderr.contains("ITV_EVENT=window.opened") }
            let lines = daemon.stderr.split(separator: "\n")
            #expect(logged, "\(daemon.stderr)")
            let readyLine = lines.first { $0.contains("ITV_EVENT=daemon.ready") }
            #expect(readyLine?.hasPrefix("itvd[\(daemon.pid)]: INFO itvd ") == true, "\(lines)")
            let windowLine = lines.first { $0.contains("ITV_EVENT=window.opened") }
            #expect(windowLine?.contains("ITV_WINDOW=evening") == true, "\(lines)")
            #expect(windowLine?.contains("ITV_USER=root") == true, "\(lines)")
            #expect(lines.allSatisfy { $0.hasPrefix("itvd[\(daemon.pid)]: ") }, "\(lines)")
        }
    }

    /// `itvctl procedure list`: id to name.
    static func procedures(_ dir: DaemonDirectory) async throws -> [String: String] {
        let list = try await dir.ctlJSON("procedure", "list")
        var names: [String: String] = [:]
        for p in list["procedures"] as? [[String: Any]] ?? [] {
            if let id = p["id"] as? String { names[id] = p["name"] as? String ?? "?" }
        }
        return names
    }

    /// The inode of the file at `path`, or nil when there is none.
    static func inode(_ path: String) -> UInt64? {
        var info = stat()
        return lstat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    /// The first assignment's name: "READY", "STATUS", "RELOADING", "STOPPING", "WATCHDOG".
    static func kind(_ message: String) -> String {
        String(message.prefix { $0 != "=" })
    }

    static func isSubsequence(_ wanted: [String], of list: [String]) -> Bool {
        var rest = wanted[...]
        for item in list where item == rest.first { rest = rest.dropFirst() }
        return rest.isEmpty
    }
}
