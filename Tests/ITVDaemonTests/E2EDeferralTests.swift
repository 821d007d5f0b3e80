import Foundation
import Testing

/// A fake-app playbook with the unreached-host keys of issue 13.
func unreachedPlaybook(id: String, waves: [String], retry: String, deadline: String = "7d") throws -> String {
    try fakeAppPlaybook(id: id, waves: waves).replacingOccurrences(
        of: "  max_failures: 0",
        with: "  max_failures: 0\n  retry_unreached: \(retry)\n  reach_deadline: \(deadline)\n  max_unreached: 50%")
}

extension E2ETests {
    /// Switched-off workstations (issue 13) on the real fleet: `fleet.sh switch DIR HOST off on` stops the
    /// host's sshd, so connections are refused, as for a PC that is off.
    @Suite("End to end: unreached hosts are deferred, not failed", .serialized)
    struct E2EDeferralTests {
        @Test("12 hosts, 3 switched off: every wave passes, the 3 are deferred, switched on they are caught up")
        func switchedOffHostsAreCaughtUp() async throws {
            let app = "fake-off"
            let playbook = try unreachedPlaybook(id: app, waves: threeWaves(["auto", "auto", "auto"]), retry: "2s")
            try await E2EFleet.with(12, base: "127.0.113") { fleet in
                for host in fleet.hostNames { try fleet.setVersion(host, app, "1.0") }
                try await E2EDaemon.with(fleet: fleet, playbooks: [app: playbook]) { itvd in
                    let plan = try itvd.plan(app, "2.0")
                    let off = [plan.waves[0].hosts[0], plan.waves[1].hosts[0], plan.waves[2].hosts[0]]
                    for host in off { try ProbeFleet.script(["switch", fleet.dir, host, "off", "on"]) }
                    let rid = try itvd.startRollout(app, "2.0")
                    var detail = try await itvd.waitFor(rid, "catching up") {
                        $0.phase == "catching_up" || $0.phase.hasPrefix("halt") || $0.phase == "succeeded"
                    }
                    #expect(detail.phase == "catching_up", "\(detail.summary)")
                    #expect(detail.hosts(in: "deferred") == off.sorted(), "\(detail.summary)")
                    #expect(detail.hosts(in: "failed").isEmpty)
                    for host in off {
                        #expect(detail.run(host)?.errorKind == "connect_failed", "\(detail.summary)")
                        #expect(fleet.ledger(host, app).isEmpty)
                    }
                    for host in fleet.hostNames where !off.contains(host) {
                        #expect(fleet.version(host, app) == "2.0", "\(host)")
                    }
                    // Operators see them apart from failures.
                    let show = try itvd.ok(["rollout", "show", String(rid)])
                    #expect(show.contains("deferred (unreached)"), "\(show)")
                    #expect(show.contains("not reached: 3 deferred, 0 unreached"), "\(show)")
                    let hosts = try itvd.ok(["host", "list", "--procedure", app])
                    #expect(hosts.contains("deferred (unreached) in rollout \(rid)"), "\(hosts)")
                    // Switched on: caught up at their next retry, the rollout succeeds.
                    for host in off { try ProbeFleet.script(["switch", fleet.dir, host, "off", "off"]) }
                    detail = try await itvd.waitFor(rid, "ended", timeout: 120) {
                        ["succeeded", "incomplete", "halted", "failed", "aborted"].contains($0.phase)
                    }
                    #expect(detail.phase == "succeeded", "\(detail.summary)")
                    for host in fleet.hostNames { #expect(fleet.version(host, app) == "2.0", "\(host)") }
                }
            }
        }

        @Test("10 of 12 switched off halt the wave on max_unreached; a passed deadline ends incomplete")
        func outageHaltsAndDeadlineEndsIncomplete() async throws {
            let app = "fake-outage"
            let late = "fake-late"
            let one = ["{name: all, size: rest, approval: auto}"]
            try await E2EFleet.with(12, base: "127.0.114") { fleet in
                for host in fleet.hostNames {
                    try fleet.setVersion(host, app, "1.0")
                    try fleet.setVersion(host, late, "1.0")
                }
                let playbooks = [
                    app: try unreachedPlaybook(id: app, waves: one, retry: "1m"),
                    late: try unreachedPlaybook(
                        id: late, waves: threeWaves(["auto", "auto", "auto"]), retry: "1s",
                        deadline: "4s"),
                ]
                try await E2EDaemon.with(fleet: fleet, playbooks: playbooks) { itvd in
                    let down = Array(fleet.hostNames.prefix(10))
                    for host in down { try ProbeFleet.script(["switch", fleet.dir, host, "off", "on"]) }
                    let rid = try itvd.startRollout(app, "2.0")
                    var detail = try await itvd.waitFor(rid, "halted") { $0.phase == "halted" }
                    #expect(detail.rollout.reason?.contains("network or site down?") == true, "\(detail.summary)")
                    #expect(detail.hosts(in: "failed").isEmpty, "\(detail.summary)")
                    #expect(detail.hosts(in: "deferred").count >= 7, "\(detail.summary)")
                    try itvd.ok(["rollout", "abort", String(rid), "--reason", "e2e: site down"])
                    _ = try await itvd.waitFor(rid, "aborted") { d in
                        d.phase == "aborted" && !d.hostRuns.contains { $0.phase == "running" }
                    }
                    for host in down { try ProbeFleet.script(["switch", fleet.dir, host, "off", "off"]) }

                    // One host stays off past reach_deadline: unreached, and the rollout ends incomplete.
                    let gone = fleet.hostNames[11]
                    try ProbeFleet.script(["switch", fleet.dir, gone, "off", "on"])
                    let rid2 = try itvd.startRollout(late, "2.0")
                    detail = try await itvd.waitFor(rid2, "ended", timeout: 120) {
                        ["succeeded", "incomplete", "halted", "failed", "aborted"].contains($0.phase)
                    }
                    #expect(detail.phase == "incomplete", "\(detail.summary)")
                    #expect(detail.hosts(in: "unreached") == [gone], "\(detail.summary)")
                    #expect(detail.rollout.reason?.contains(gone) == true, "\(detail.summary)")
                    for host in fleet.hostNames where host != gone {
                        #expect(fleet.version(host, late) == "2.0", "\(host)")
                    }
                    let show = try itvd.ok(["rollout", "show", String(rid2)])
                    #expect(show.contains("incomplete") && show.contains(gone), "\(show)")
                    let status = try itvd.ok(["status"])
                    #expect(status.contains("1 hosts") && status.contains("incomplete"), "\(status)")
                }
            }
        }
    }
}
