import Foundation
import ITVProtocol
import Testing

/// Two operator users in an operator group, created for the test and deleted afterwards (also on failure).
struct E2EOperators {
    static let group = "itv-e2e-ops"
    static let users = ["itv-e2e-op1", "itv-e2e-op2"]
    /// In no group of itvd's: may not use the socket.
    static let stranger = "itv-e2e-x"

    static func with<T>(_ body: ([String: UInt32]) async throws -> T) async throws -> T {
        removeAll()  // leftovers of an interrupted run
        defer { removeAll() }
        try must("/usr/sbin/groupadd", [group])
        var uids: [String: UInt32] = [:]
        for user in users {
            try must("/usr/sbin/useradd", ["--no-create-home", "--gid", group, "--shell", "/usr/sbin/nologin", user])
            let id = try runProgram("/usr/bin/id", ["-u", user]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            guard let uid = UInt32(id) else { throw E2EFailure(description: "no uid for \(user): \(id)") }
            uids[user] = uid
        }
        try must("/usr/sbin/useradd", ["--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", stranger])
        return try await body(uids)
    }

    static func removeAll() {
        for user in users { _ = try? runProgram("/usr/sbin/userdel", [user]) }
        _ = try? runProgram("/usr/sbin/userdel", ["--remove", stranger])
        _ = try? runProgram("/usr/sbin/groupdel", [stranger])
        _ = try? runProgram("/usr/sbin/groupdel", [group])
    }

    static func must(_ path: String, _ arguments: [String]) throws {
        let r = try runProgram(path, arguments)
        guard r.status == 0 else {
            throw E2EFailure(description: "\(path) \(arguments.joined(separator: " ")) exited \(r.status): \(r.stderr)")
        }
    }
}

extension E2ETests {
    /// The built itvctl, run as two operator users (`runuser`), drives the built itvd on the SSH fleet
    /// (loopback range 127.0.64). Serialized: the users are machine-global.
    @Suite("End to end: itvctl as operators, four eyes, a changed plan", .serialized)
    struct E2EControlTests {
        @Test("a local user looping on the socket is refused every time but audited at most 10 times a minute")
        func refusalsAreAuditedWithinALimit() async throws {
            let app = "fake-deny"
            let playbook = try fakeAppPlaybook(id: app, waves: ["{name: all, size: rest, approval: auto}"])
            try await E2EOperators.with { _ in
                try await E2EFleet.with(1, base: "127.0.65") { fleet in
                    try await E2EDaemon.with(fleet: fleet, playbooks: [app: playbook], operators: [E2EOperators.group])
                    {
                        itvd in
                        // As when SocketMode= is set wider: the daemon's own check is what refuses.
                        #expect(chmod(itvd.socket, 0o666) == 0)
                        for _ in 0..<25 {
                            let refused = try itvd.ctl(["status"], as: E2EOperators.stranger)
                            #expect(refused.status == 77, "\(refused.stdout)\(refused.stderr)")
                        }
                        let audit = try e2eDecode(AuditResponse.self, try itvd.ok(["--json", "audit"]))
                        let denied = audit.entries.filter { $0.user == E2EOperators.stranger }
                        #expect(denied.count == 10, "\(denied.map(\.target))")
                        #expect(denied.allSatisfy { $0.action == "permission.denied" && $0.outcome == "denied" })
                        #expect(denied.allSatisfy { $0.comment == nil }, "the count comes with the next minute's")
                        // Operators are not affected.
                        try itvd.ok(["status"], as: E2EOperators.users[0])
                    }
                }
            }
        }

        @Test("plan, start, watch, four-eyes approval by two users, approve, watch, rollback; then plan_changed")
        func operatorsDriveRollout() async throws {
            let app = "fake-eyes"
            let waves = [
                "{name: canary, size: 2, approval: auto}",
                "{name: pilot, size: 4, approval: operator, approvals: 2}",
                "{name: broad, size: rest, approval: operator}",
            ]
            let playbook = try fakeAppPlaybook(id: app, waves: waves)
            try await E2EOperators.with { uids in
                let (op1, op2) = (E2EOperators.users[0], E2EOperators.users[1])
                try await E2EFleet.with(12, base: "127.0.64") { fleet in
                    for host in fleet.hostNames { try fleet.setVersion(host, app, "1.0") }
                    try await E2EDaemon.with(fleet: fleet, playbooks: [app: playbook], operators: [E2EOperators.group])
                    {
                        itvd in
                        let planText = try itvd.ok(["--json", "rollout", "plan", app, "--version", "2.0"], as: op1)
                        let plan = try e2eDecode(E2EPlan.self, planText)
                        #expect(plan.waves.map(\.hosts.count) == [2, 4, 6])
                        let rid = try itvd.startRollout(app, "2.0", as: op1)
                        let watch1 = try itvd.ctl(["rollout", "watch", String(rid)], as: op2)
                        #expect(watch1.status == 2, "\(watch1.stdout)\(watch1.stderr)")

                        // Four eyes: op1's approval alone does not start the wave; op1 again is refused.
                        let first = try itvd.ok(
                            ["rollout", "approve", String(rid), "--comment", "first pair"], as: op1)
                        #expect(first.contains(plan.planHash), "approve shows the plan it approves: \(first)")
                        var detail = try itvd.show(rid)
                        #expect(
                            detail.phase == "waiting_approval" && detail.rollout.currentWave == 1, "\(detail.summary)")
                        #expect(detail.waves[1].approvalsGiven == 1 && detail.waves[1].approvalsNeeded == 2)
                        let again = try itvd.ctl(["--json", "rollout", "approve", String(rid)], as: op1)
                        #expect(again.status == 1)
                        let refusedAgain = try e2eDecode(E2EError.self, again.stdout).error
                        #expect(refusedAgain.kind == "already_approved")
                        #expect(refusedAgain.message.contains("already approved"), "\(refusedAgain.message)")
                        let againHuman = try itvd.ctl(["rollout", "approve", String(rid)], as: op1)
                        #expect(againHuman.status == 1)
                        #expect(againHuman.stderr.contains("already_approved: "), "\(againHuman.stderr)")
                        for host in plan.waves[1].hosts { #expect(fleet.ledger(host, app).isEmpty) }

                        try itvd.ok(["rollout", "approve", String(rid), "--comment", "second pair"], as: op2)
                        let watch2 = try itvd.ctl(["rollout", "watch", String(rid)], as: op1)
                        #expect(watch2.status == 2, "\(watch2.stdout)\(watch2.stderr)")
                        try itvd.ok(["rollout", "approve", String(rid)], as: op2)
                        let watch3 = try itvd.ctl(["rollout", "watch", String(rid)], as: op1)
                        #expect(watch3.status == 0, "\(watch3.stdout)\(watch3.stderr)")
                        detail = try itvd.show(rid)
                        #expect(detail.phase == "succeeded", "\(detail.summary)")
                        let pilot = detail.approvals.filter { $0.wave == 1 }
                        #expect(pilot.map(\.user) == [op1, op2])
                        #expect(pilot.map(\.uid) == [uids[op1], uids[op2]].compactMap { $0 })
                        #expect(pilot.map(\.comment) == ["first pair", "second pair"])
                        for host in fleet.hostNames { #expect(fleet.version(host, app) == "2.0") }

                        try itvd.ok(["rollout", "rollback", String(rid), "--reason", "e2e"], as: op1)
                        detail = try await itvd.waitForPhase(rid, "rolled_back")
                        for host in fleet.hostNames { #expect(fleet.version(host, app) == "1.0") }
                        let audit = try itvd.ok(["audit"], as: op2)
                        #expect(audit.contains(op1) && audit.contains(op2), "\(audit)")

                        // An approval refused because the plan changed: the inventory loses a host, itvctl reload.
                        let rid2 = try itvd.startRollout(app, "3.0", as: op2)
                        let before = try await itvd.waitForApproval(rid2, wave: 1)
                        let inventory = try String(contentsOfFile: itvd.inventory, encoding: .utf8)
                        let changed = inventory.split(separator: "\n", omittingEmptySubsequences: false)
                            .filter { !$0.contains("fleet-012:") }.joined(separator: "\n")
                        #expect(changed != inventory)
                        try Data(changed.utf8).write(to: URL(fileURLWithPath: itvd.inventory))
                        try itvd.ok(["reload"], as: op1)
                        let refused = try itvd.ctl(["--json", "rollout", "approve", String(rid2)], as: op1)
                        #expect(refused.status == 1, "\(refused.stdout)\(refused.stderr)")
                        let error = try e2eDecode(E2EError.self, refused.stdout)
                        #expect(error.error.kind == "plan_changed", "\(error.error.message)")
                        let human = try itvd.ctl(["rollout", "approve", String(rid2)], as: op2)
                        #expect(human.status == 1)
                        #expect(human.stderr.contains("plan_changed"), "the error kind is printed: \(human.stderr)")
                        detail = try itvd.show(rid2)
                        #expect(detail.phase == "waiting_approval", "\(detail.summary)")
                        #expect(detail.approvals.filter { $0.source == "operator" }.isEmpty)
                        #expect(detail.rollout.planHash == before.rollout.planHash)
                        for host in before.waves[1].hosts { #expect(fleet.version(host, app) == "1.0") }
                        try itvd.ok(["rollout", "abort", String(rid2), "--reason", "plan changed"], as: op1)
                        try await itvd.waitForPhase(rid2, "aborted")
                    }
                }
            }
        }
    }
}
