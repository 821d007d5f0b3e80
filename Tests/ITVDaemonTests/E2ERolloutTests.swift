import Foundation
import Testing

/// What `itvctl --json rollout plan` prints, as far as the tests read it.
struct E2EPlan: Decodable {
    struct Wave: Decodable {
        var name: String
        var hosts: [String]
    }
    var planHash: String
    var hostCount: Int
    var waves: [Wave]
}

extension E2EDaemon {
    func plan(_ app: String, _ version: String) throws -> E2EPlan {
        try e2eDecode(E2EPlan.self, try ok(["--json", "rollout", "plan", app, "--version", version]))
    }
}

/// The three waves of the 12-host rollouts: 2 hosts, 4 hosts, the other 6.
func threeWaves(_ approvals: [String], parallel: [Int?] = [nil, nil, nil]) -> [String] {
    let sizes = ["2", "4", "rest"]
    let names = ["canary", "pilot", "broad"]
    return (0..<3).map { i in
        "{name: \(names[i]), size: \(sizes[i]), approval: \(approvals[i])"
            + (parallel[i].map { ", parallel: \($0)" } ?? "") + "}"
    }
}

extension E2ETests {
    /// The built itvd on 12 real SSH hosts with the fake vendor installer: waves, approvals, failure threshold,
    /// rollback, windows. Each test has a loopback range of its own (127.0.60-62).
    @Suite("End to end: rollouts on the SSH fleet", .serialized)
    struct E2ERolloutTests {
        @Test(
            "12 hosts, 3 waves: auto canary, two operator approvals, watch, then a rollback to each host's own version")
        func fullRolloutWithApprovalsAndRollback() async throws {
            let app = "fake-full"
            let playbook = try fakeAppPlaybook(id: app, waves: threeWaves(["auto", "operator", "operator"]))
            try await E2EFleet.with(12, base: "127.0.60") { fleet in
                // Every host its own starting version; fleet-005 runs the target already.
                var initial: [String: String] = [:]
                for (i, host) in fleet.hostNames.enumerated() {
                    initial[host] = i == 4 ? "2.0" : "1.\(i)"
                    try fleet.setVersion(host, app, initial[host] ?? "")
                }
                try await E2EDaemon.with(fleet: fleet, playbooks: [app: playbook]) { itvd in
                    let plan = try itvd.plan(app, "2.0")
                    #expect(plan.hostCount == 12)
                    #expect(plan.waves.map(\.hosts.count) == [2, 4, 6])
                    #expect(Set(plan.waves.flatMap(\.hosts)) == Set(fleet.hostNames))
                    let human = try itvd.ok(["rollout", "plan", app, "--version", "2.0"])
                    #expect(human.contains(plan.planHash))

                    let rid = try itvd.startRollout(app, "2.0")
                    // watch exits 2 when the rollout waits for an approval.
                    let watch1 = try itvd.ctl(["rollout", "watch", String(rid)])
                    #expect(watch1.status == 2, "\(watch1.stdout)\(watch1.stderr)")
                    var detail = try itvd.show(rid)
                    #expect(detail.phase == "waiting_approval" && detail.rollout.currentWave == 1, "\(detail.summary)")
                    for host in plan.waves[0].hosts {
                        #expect(fleet.version(host, app) == "2.0")
                    }
                    for host in plan.waves[1].hosts + plan.waves[2].hosts {
                        #expect(detail.run(host)?.phase == "pending", "\(host) ran before its wave was approved")
                        #expect(fleet.version(host, app) == initial[host])
                        #expect(fleet.ledger(host, app).isEmpty)
                    }

                    try itvd.ok(["rollout", "approve", String(rid), "--comment", "pilot looks fine"])
                    let watch2 = try itvd.ctl(["rollout", "watch", String(rid)])
                    #expect(watch2.status == 2, "\(watch2.stdout)\(watch2.stderr)")
                    detail = try itvd.show(rid)
                    #expect(detail.rollout.currentWave == 2, "\(detail.summary)")
                    for host in plan.waves[2].hosts {
                        #expect(fleet.ledger(host, app).isEmpty, "\(host) of wave 3 ran before wave 3 was approved")
                    }
                    try itvd.ok(["rollout", "approve", String(rid), "--comment", "broad"])
                    let watch3 = try itvd.ctl(["rollout", "watch", String(rid)])
                    #expect(watch3.status == 0, "\(watch3.stdout)\(watch3.stderr)")

                    detail = try itvd.show(rid)
                    #expect(detail.phase == "succeeded", "\(detail.summary)")
                    for host in fleet.hostNames {
                        #expect(fleet.version(host, app) == "2.0")
                        let expected = host == "fleet-005" ? 0 : 1
                        #expect(fleet.installs(host, app, of: "2.0") == expected, "\(host): \(fleet.ledger(host, app))")
                        let phase = host == "fleet-005" ? "already_current" : "succeeded"
                        #expect(detail.run(host)?.phase == phase, "\(detail.summary)")
                        if host != "fleet-005" { #expect(detail.run(host)?.previous == initial[host]) }
                    }
                    #expect(detail.approvals.map(\.wave) == [0, 1, 2])
                    #expect(detail.approvals.map(\.source) == ["auto", "operator", "operator"])
                    #expect(detail.approvals.dropFirst().allSatisfy { $0.user == "root" && $0.uid == 0 })
                    #expect(detail.approvals.first { $0.wave == 1 }?.comment == "pilot looks fine")

                    // Rollback: every host the rollout changed goes back to its own previous version.
                    try itvd.ok(["rollout", "rollback", String(rid), "--reason", "e2e rollback"])
                    detail = try await itvd.waitForPhase(rid, "rolled_back")
                    for host in fleet.hostNames {
                        #expect(fleet.version(host, app) == initial[host], "\(host)")
                        let ledger = fleet.ledger(host, app)
                        if host == "fleet-005" {
                            #expect(ledger.isEmpty, "a host the rollout did not change is not rolled back: \(ledger)")
                        } else {
                            #expect(ledger.map(\.kind) == ["install", "rollback"], "\(host): \(ledger)")
                            #expect(ledger.last?.version == initial[host])
                            #expect(detail.run(host)?.phase == "rolled_back", "\(detail.summary)")
                        }
                    }
                    let audit = try itvd.ok(["audit"])
                    #expect(audit.contains("e2e rollback"), "\(audit)")
                }
            }
        }

        @Test("Failing hosts: one in a wave with max_failures 1 goes on; two halt (on_failure: halt) or roll back")
        func failureThreshold() async throws {
            let below = "fake-below"
            let above = "fake-above"
            let back = "fake-back"
            let waves = threeWaves(["auto", "auto", "auto"])
            try await E2EFleet.with(12, base: "127.0.61") { fleet in
                for host in fleet.hostNames {
                    try fleet.setVersion(host, below, "1.0")
                    try fleet.setVersion(host, above, "1.0")
                    try fleet.setVersion(host, back, "1.0")
                }
                let playbooks = [
                    below: try fakeAppPlaybook(id: below, waves: waves, maxFailures: "1"),
                    above: try fakeAppPlaybook(id: above, waves: waves, maxFailures: "1"),
                    back: try fakeAppPlaybook(id: back, waves: waves, maxFailures: "1", onFailure: "rollback"),
                ]
                try await E2EDaemon.with(fleet: fleet, playbooks: playbooks) { itvd in
                    // Below (equal to) the threshold: one host of wave 2 fails, the rollout goes on to the end.
                    let plan = try itvd.plan(below, "2.0")
                    let failing = plan.waves[1].hosts[0]
                    try fleet.marker(failing, "fail-\(below)", "")
                    let rid = try itvd.startRollout(below, "2.0")
                    var detail = try await itvd.waitFor(rid, "ended") {
                        ["succeeded", "failed", "halted", "rolled_back", "aborted"].contains($0.phase)
                    }
                    #expect(detail.phase == "succeeded", "\(detail.summary)")
                    #expect(detail.run(failing)?.phase == "failed")
                    #expect(detail.run(failing)?.errorKind == "exit_status")
                    #expect(fleet.version(failing, below) == "1.0")
                    for host in fleet.hostNames where host != failing {
                        #expect(fleet.version(host, below) == "2.0", "\(host)")
                        #expect(detail.run(host)?.phase == "succeeded", "\(host)")
                    }

                    // Above the threshold: two hosts of wave 2 fail; wave 3 never starts.
                    let plan2 = try itvd.plan(above, "2.0")
                    let failing2 = Array(plan2.waves[1].hosts.prefix(2))
                    for host in failing2 { try fleet.marker(host, "fail-\(above)", "") }
                    let rid2 = try itvd.startRollout(above, "2.0")
                    detail = try await itvd.waitFor(rid2, "halted with wave 2 settled") { d in
                        d.phase == "halted" && plan2.waves[1].hosts.allSatisfy { d.run($0)?.phase != "running" }
                    }
                    #expect(detail.rollout.currentWave == 1)
                    #expect(detail.rollout.reason?.contains("max_failures") == true, "\(detail.rollout.reason ?? "-")")
                    for host in failing2 { #expect(detail.run(host)?.phase == "failed") }
                    // Nothing of wave 3 is dispatched while halted, even after a while.
                    try await Task.sleep(for: .seconds(2))
                    detail = try itvd.show(rid2)
                    #expect(detail.phase == "halted")
                    for host in plan2.waves[2].hosts {
                        #expect(detail.run(host)?.phase == "pending", "\(detail.summary)")
                        #expect(fleet.ledger(host, above).isEmpty, "\(host) was changed after the halt")
                    }
                    try itvd.ok(["rollout", "abort", String(rid2), "--reason", "e2e: too many failures"])
                    detail = try await itvd.waitForPhase(rid2, "aborted")
                    for host in plan2.waves[2].hosts { #expect(fleet.version(host, above) == "1.0") }

                    // Above the threshold with on_failure: rollback: the rollout rolls itself back, newest wave first.
                    let plan3 = try itvd.plan(back, "2.0")
                    let failing3 = Array(plan3.waves[1].hosts.prefix(2))
                    for host in failing3 { try fleet.marker(host, "fail-\(back)", "") }
                    let rid3 = try itvd.startRollout(back, "2.0")
                    detail = try await itvd.waitFor(rid3, "ended") {
                        ["succeeded", "failed", "halted", "rolled_back", "aborted"].contains($0.phase)
                    }
                    #expect(detail.phase == "rolled_back", "\(detail.summary)")
                    #expect(detail.rollout.reason?.contains("max_failures") == true, "\(detail.rollout.reason ?? "-")")
                    for host in fleet.hostNames {
                        #expect(fleet.version(host, back) == "1.0", "\(host)")
                        #expect(fleet.installs(host, back, of: "2.0") <= 1)
                    }
                    for host in plan3.waves[0].hosts {
                        #expect(fleet.ledger(host, back).map(\.kind) == ["install", "rollback"], "\(host)")
                    }
                    for host in plan3.waves[2].hosts {
                        #expect(fleet.ledger(host, back).isEmpty, "\(host) of wave 3 was changed")
                    }
                }
            }
        }

        @Test("A window that closes mid-wave: runs in flight finish, the rest wait for the next opening")
        func windowClosesMidWave() async throws {
            let app = "fake-window"
            // One wave of all 12 hosts, two at a time, each install taking 2 s, only while `evening` is open.
            let playbook = try fakeAppPlaybook(
                id: app, waves: ["{name: all, size: rest, approval: window, parallel: 2}"], window: "evening")
            try await E2EFleet.with(12, base: "127.0.62") { fleet in
                for host in fleet.hostNames {
                    try fleet.setVersion(host, app, "1.0")
                    try fleet.marker(host, "slow-\(app)", "2")
                }
                try await E2EDaemon.with(fleet: fleet, playbooks: [app: playbook]) { itvd in
                    let rid = try itvd.startRollout(app, "2.0")
                    var detail = try await itvd.waitForApproval(rid, wave: 0)
                    #expect(detail.hostRuns.allSatisfy { $0.phase == "pending" })

                    try itvd.ok(["window", "open", "evening", "--for", "1h"])
                    // Close it while some hosts are done and two are running.
                    detail = try await itvd.waitFor(rid, "two hosts done and two running") {
                        $0.hosts(in: "succeeded").count >= 2 && $0.hosts(in: "running").count == 2
                    }
                    try itvd.ok(["window", "close", "evening"])
                    let closedAt = try itvd.show(rid)
                    let inFlight = closedAt.hosts(in: "running")
                    let done = closedAt.hosts(in: "succeeded")
                    #expect(!inFlight.isEmpty)
                    detail = try await itvd.waitFor(rid, "no host running") { $0.hosts(in: "running").isEmpty }
                    for host in inFlight {
                        #expect(detail.run(host)?.phase == "succeeded", "a run in flight finishes: \(detail.summary)")
                        #expect(fleet.version(host, app) == "2.0")
                    }
                    // Nothing new starts while the window is closed.
                    try await Task.sleep(for: .seconds(4))
                    detail = try itvd.show(rid)
                    let waiting = detail.hosts(in: "pending")
                    #expect(waiting.count == 12 - Set(done + inFlight).count, "\(detail.summary)")
                    #expect(!waiting.isEmpty)
                    for host in waiting {
                        #expect(fleet.ledger(host, app).isEmpty, "\(host) started while the window was closed")
                    }
                    #expect(detail.phase != "succeeded")

                    try itvd.ok(["window", "open", "evening", "--for", "1h"])
                    detail = try await itvd.waitForPhase(rid, "succeeded")
                    for host in fleet.hostNames {
                        #expect(fleet.version(host, app) == "2.0")
                        #expect(fleet.installs(host, app, of: "2.0") == 1, "\(host): \(fleet.ledger(host, app))")
                    }
                    #expect(detail.approvals.first?.source == "window")
                    // The window stays open for an hour: its timer must not hold a graceful stop (SIGTERM).
                    #expect(itvd.stopGracefully(timeout: 60) == 0, "itvd did not end on SIGTERM: \(itvd.logTail())")
                }
            }
        }
    }
}
