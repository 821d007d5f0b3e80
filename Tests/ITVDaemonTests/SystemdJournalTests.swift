import Foundation
import ITVCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension SystemdFleetTests {
    @Test(
        "a rollout through the real itvd (--log automatic) journals its key events with ITV_* fields, PRIORITY and MESSAGE_ID"
    )
    func journalOfARollout() async throws {
        let dir = try DaemonDirectory()
        try dir.writePlaybook(
            "app",
            fleetPlaybook(
                "app",
                waves: [
                    "{name: canary, hosts: [fleet-001], approval: operator}",
                    "{name: rest, size: rest, approval: window}",
                ],
                install: "test {{host}} != fleet-002 && echo {{version}} > /opt/itv-host/app"))
        try await SystemdFleet.with(3, in: dir) {
            try await PrivateJournald.with(state: dir.root + "/journald.state") { journald in
                let notify = try NotifySocket()
                let process = try dir.startDaemon(
                    log: "automatic", launcher: journald.enter, environment: ["NOTIFY_SOCKET": notify.path])
                try await withDaemon(process) { daemon in
                    let ready = await notify.waitFor(from: daemon.pid, timeout: .seconds(120)) {
                        $0.hasPrefix("READY=1")
                    }
                    try #require(ready != nil, "no READY=1; stderr: \(daemon.stderr)")
                    let start = try await dir.ctl("rollout", "start", "app", "--version", "3.1")
                    try #require(start.status == 0, "\(start.stderr)")
                    let rid = start.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                    let approve = try await dir.ctl("rollout", "approve", rid)
                    #expect(approve.status == 0, "\(approve.stdout) \(approve.stderr)")
                    // The rollout's window is closed: even the approved wave 1 does not start before it opens.
                    try await Task.sleep(for: .seconds(2))
                    let approved = try await dir.rollout(rid)
                    #expect(approved.hostPhases["fleet-001"] == "pending", "\(approved)")
                    // Open: wave 1 (fleet-001) runs, wave 2 starts unattended, fleet-002 fails, the rollout halts.
                    let open = try await dir.ctl("window", "open", "evening")
                    #expect(open.status == 0, "\(open.stderr)")
                    let halted = await waitUntil(.seconds(120)) { (try? await dir.rollout(rid))?.phase == "halted" }
                    let afterWave2 = try await dir.rollout(rid)
                    #expect(halted, "\(afterWave2)")
                    // --log automatic found the journal: nothing of this went to stderr.
                    #expect(!daemon.stderr.contains("halted"), "\(daemon.stderr)")

                    // Read back from journald what this daemon wrote about the rollout.
                    let matches = ["_PID=\(daemon.pid)", "ITV_ROLLOUT=\(rid)"]
                    let wanted: Set = ["rollout.created", "wave.approved", "host.failed", "rollout.halted"]
                    var entries: [[String: Any]] = []
                    let complete = try await waitUntil(.seconds(60)) {
                        entries = try await journald.entries(matches)
                        return wanted.isSubset(of: Set(entries.compactMap { $0["ITV_EVENT"] as? String }))
                    }
                    let summary = entries.map { e in
                        ["ITV_EVENT", "ITV_WAVE", "ITV_HOST", "ITV_USER"].map { "\($0)=\(e[$0] as? String ?? "-")" }
                            .joined(separator: " ")
                    }
                    #expect(complete, "\(summary)")
                    func entry(_ event: ITVEvent, _ extra: [String: String] = [:]) -> [String: Any]? {
                        entries.first { e in
                            e["ITV_EVENT"] as? String == event.rawValue
                                && extra.allSatisfy { e[$0.key] as? String == $0.value }
                        }
                    }
                    let common = [
                        "ITV_PROCEDURE": "app", "ITV_ROLLOUT": rid, "ITV_VERSION": "3.1", "SYSLOG_IDENTIFIER": "itvd",
                    ]
                    Self.check(
                        entry(.rolloutCreated), event: .rolloutCreated, priority: 5,
                        common.merging(["ITV_USER": "root"]) { $1 })
                    Self.check(
                        entry(.waveApproved, ["ITV_WAVE": "1"]), event: .waveApproved, priority: 5,
                        common.merging(["ITV_USER": "root"]) { $1 }, summary: summary)
                    Self.check(
                        entry(.waveApproved, ["ITV_WAVE": "2"]), event: .waveApproved, priority: 5, common,
                        summary: summary)
                    Self.check(
                        entry(.hostFailed), event: .hostFailed, priority: 3,
                        common.merging(["ITV_HOST": "fleet-002", "ITV_TENANT": "fleet", "ITV_WAVE": "2"]) { $1 })
                    Self.check(entry(.rolloutHalted), event: .rolloutHalted, priority: 3, common)

                    var opened: [[String: Any]] = []
                    _ = try await waitUntil(.seconds(30)) {
                        opened = try await journald.entries(["_PID=\(daemon.pid)", "ITV_EVENT=window.opened"])
                        return !opened.isEmpty
                    }
                    Self.check(
                        opened.first, event: .windowOpened, priority: 5,
                        ["ITV_WINDOW": "evening", "ITV_USER": "root", "SYSLOG_IDENTIFIER": "itvd"])
                }
            }
        }
    }

    /// An entry of `event` with its PRIORITY, MESSAGE_ID (which the catalog explains) and `fields`.
    static func check(
        _ entry: [String: Any]?, event: ITVEvent, priority: Int, _ fields: [String: String], summary: [String] = [],
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        guard let entry else {
            Issue.record("no \(event.rawValue) entry (\(summary))", sourceLocation: sourceLocation)
            return
        }
        #expect(entry["ITV_EVENT"] as? String == event.rawValue, sourceLocation: sourceLocation)
        #expect(entry["PRIORITY"] as? String == String(priority), "\(entry)", sourceLocation: sourceLocation)
        let id = entry["MESSAGE_ID"] as? String
        #expect(id != nil && id == event.messageID, "\(entry)", sourceLocation: sourceLocation)
        #expect(
            catalog.contains("-- \(id ?? "none")\n"), "MESSAGE_ID \(id ?? "none") not in units/itvd.catalog",
            sourceLocation: sourceLocation)
        #expect((entry["MESSAGE"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
        for (name, value) in fields {
            #expect(
                entry[name] as? String == value, "\(name) of \(event.rawValue): \(entry)",
                sourceLocation: sourceLocation)
        }
    }

    static var catalog: String {
        (try? String(contentsOfFile: repositoryRoot + "/units/itvd.catalog", encoding: .utf8)) ?? ""
    }
}

/// A standalone journald (`scripts/systemd/journald.sh`) in a mount namespace of its own with a private /run,
/// so that its socket and journal files are this test's alone (other tests and other engineers' runs start
/// and stop journalds on the machine's /run/systemd/journal/socket). Processes join it with `enter`.
struct PrivateJournald {
    let pid: pid_t

    /// A launcher that runs a command in the journald's mount namespace (nsenter execs it: same PID).
    var enter: [String] { ["/usr/bin/nsenter", "--target", String(pid), "--mount", "--"] }

    static func with<T>(state: String, _ body: (PrivateJournald) async throws -> T) async throws -> T {
        let script = repositoryRoot + "/scripts/systemd/journald.sh"
        let started = try await runTool(
            "/usr/bin/unshare",
            [
                "--mount", "--propagation", "private", "--", "/bin/bash", "-c",
                "mount -t tmpfs -o mode=0755 itv-test-run /run && exec /bin/bash \"$0\" start \"$1\"", script, state,
            ])
        let text = (try? String(contentsOfFile: state, encoding: .utf8)) ?? ""
        let pidLine = text.split(separator: "\n").first { $0.hasPrefix("pid=") }
        let pid = pidLine.flatMap { pid_t($0.dropFirst(4)) }
        guard started.status == 0, let pid else {
            if let pid { kill(pid, SIGTERM) }
            throw SystemdTestError("no private journald (\(started.status)): \(started.stderr) state: \(text)")
        }
        let journald = PrivateJournald(pid: pid)
        do {
            let result = try await body(journald)
            await journald.stop(script: script, state: state)
            return result
        } catch {
            await journald.stop(script: script, state: state)
            throw error
        }
    }

    /// Stops it by its PID, inside its namespace (what journald.sh removes is in the private /run).
    func stop(script: String, state: String) async {
        _ = try? await runTool(enter[0], Array(enter.dropFirst()) + ["/bin/bash", script, "stop", state])
        if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
    }

    /// `journalctl -o json MATCHES` in the namespace: one dictionary per entry.
    func entries(_ matches: [String]) async throws -> [[String: Any]] {
        let result = try await runTool(
            enter[0], Array(enter.dropFirst()) + ["/usr/bin/journalctl", "--no-pager", "-o", "json"] + matches)
        guard result.status == 0 || result.stdout.isEmpty else {
            throw SystemdTestError("journalctl failed: \(result.stderr)")
        }
        return result.stdout.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }
}
