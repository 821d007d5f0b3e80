import ITVCore
import Testing

@testable import ITVEngine

@Suite struct EngineScenarioTests {
    @Test func aFullRolloutWithApprovalAndWindow() async throws {
        let fleet = FakeFleet(hosts: ["h01": "1.0", "h02": "1.0", "h03": nil, "h04": "1.0", "h05": "2.0", "h06": "1.0"])
        let clock = ManualClock()
        let h = try await EngineHarness(set: makeSet(), fleet: fleet, clock: clock)
        let created = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice)
        let id = created.rollout.id
        // The rollout names a window: nothing runs while it is closed, not even the canary, however long it
        // stays closed. A step would have been sent by the time its rollout's commit returned.
        #expect(await h.engine.stepsInFlight == 0)
        clock.advance(seconds: 7 * 86_400)
        #expect(clock.sleeping == 0, "no timer waits")
        #expect(await h.engine.stepsInFlight == 0)
        #expect(try await h.engine.snapshot(id).run("h01")?.phase == .pending)
        #expect(await fleet.log.isEmpty)
        _ = try await h.engine.openWindow("evening", duration: nil, by: bob)
        // The canary runs by itself, then the pilot waits for an operator.
        var s = try await h.wait(id) { $0.phase == .waitingApproval && $0.rollout.currentWave == 1 }
        #expect(s.run("h01")?.phase == .succeeded)
        #expect(s.run("h01")?.previous == "1.0")
        #expect(s.run("h02")?.phase == .pending)
        s = try await h.engine.approve(id, planHash: s.rollout.planHash, comment: "looks good", by: alice)
        // The window is open, so the broad wave starts unattended after the pilot.
        s = try await h.wait(id) { $0.phase.isFinal }
        #expect(s.run("h02")?.phase == .succeeded && s.run("h03")?.phase == .succeeded)
        #expect(s.run("h03")?.previous == nil)
        #expect(s.phase == .succeeded)
        #expect(s.run("h05")?.phase == .alreadyCurrent)
        for host in ["h01", "h02", "h03", "h04", "h05", "h06"] {
            #expect(await fleet.state(host)?.version == "2.0")
        }
        #expect(await fleet.state("h05")?.ledger == ["detect"])
        #expect(await fleet.state("h01")?.ledger == ["detect", "install '2.0'", "verify '2.0'"])
        let audit = await h.store.auditLog.map { "\($0.user) \($0.action) \($0.outcome)" }
        #expect(audit == ["alice rollout.start ok", "bob window.open ok", "alice rollout.approve ok"])
        let approvals = await h.store.approvals.map { "\($0.wave):\($0.source.rawValue):\($0.user)" }
        #expect(approvals == ["0:auto:itvd", "1:operator:alice", "2:window:itvd"])
    }

    @Test func aWindowWaveWaitsForTheWindowAndAClosingWindowStopsDispatch() async throws {
        let fleet = FakeFleet(
            hosts: Dictionary(uniqueKeysWithValues: (1...6).map { (String(format: "h%02d", $0), "1.0") }))
        let set = makeSet(waves: [WaveSpec(name: "night", size: .rest, approval: .window, parallel: 1)])
        let clock = ManualClock()
        let h = try await EngineHarness(set: set, fleet: fleet, clock: clock)
        let id = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        var s = try await h.wait(id) { $0.phase == .waitingApproval }
        #expect(await fleet.log.isEmpty, "closed window: nothing runs")
        await fleet.hold(true)
        _ = try await h.engine.openWindow("evening", duration: nil, by: alice)
        // parallel 1: exactly one install is in flight when the window closes.
        try await until { await fleet.heldCount == 1 }
        _ = try await h.engine.closeWindow("evening", by: alice)
        await fleet.releaseInstalls()
        s = try await h.wait(id) { $0.hostRuns.filter { $0.phase == .running }.isEmpty }
        let done = s.hostRuns.filter { $0.phase == .succeeded }.count
        #expect(done == 1, "the run in flight finished, the rest wait: \(done) done")
        #expect(s.hostRuns.filter { $0.phase == .pending }.count == 5)
        #expect(s.phase == .running)
        // Nothing more is sent while the window is closed: a step would be in flight by the time the commit
        // that allowed it was shown; and time passing changes nothing.
        #expect(await h.engine.stepsInFlight == 0)
        clock.advance(seconds: 86_400)
        #expect(await h.engine.stepsInFlight == 0)
        #expect(try await h.engine.snapshot(id).hostRuns.filter { $0.phase == .succeeded }.count == done)
        _ = try await h.engine.openWindow("evening", duration: nil, by: alice)
        s = try await h.wait(id) { $0.phase.isFinal }
        #expect(s.phase == .succeeded)
    }

    /// The engine's machine runs ahead of the store (an event changes it at once, the commit follows). What it
    /// shows and when it forgets a rollout must follow the store: a state a kill -9 could take back is never
    /// shown, and a rollout whose end is not yet durable stays active.
    @Test func snapshotsShowOnlyCommittedStateAndARolloutEndsOnlyWhenItsEndIsDurable() async throws {
        let fleet = FakeFleet(hosts: ["h01": "1.0", "h02": "1.0"])
        let set = makeSet(
            hosts: 2, waves: [WaveSpec(name: "all", size: .rest, approval: .auto, parallel: 2)], window: nil)
        let h = try await EngineHarness(set: set, fleet: fleet)
        await fleet.hold(true, command: "verify")
        let id = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        try await until { await fleet.heldCount == 2 }
        // Both verifies return while the first result's commit is held: the second queues behind it.
        await h.store.holdCommits(true)
        await fleet.releaseInstalls()
        try await until { await h.store.heldCommitCount == 1 }
        try await until { await h.engine.pendingBatches.count == 1 }
        var s = try await h.engine.snapshot(id)
        #expect(s.phase == .running, "the end is not committed yet")
        #expect(s.hostRuns.allSatisfy { $0.phase == .running && $0.step == .verify && $0.stepInFlight })
        // The first result is committed; the second (the rollout's end) is held.
        let committed = await h.store.commits
        await h.store.releaseCommit()
        try await until {
            let (done, held) = (await h.store.commits, await h.store.heldCommitCount)
            return done == committed + 1 && held == 1
        }
        s = try await h.engine.snapshot(id)
        #expect(s.phase == .running)
        #expect(s.hostRuns.filter { $0.phase == .succeeded }.count == 1)
        #expect(await h.engine.activeSnapshots().map(\.rollout.id) == [id], "still active until its end is durable")
        await h.store.holdCommits(false)
        s = try await h.wait(id) { $0.phase.isFinal }
        #expect(s.phase == .succeeded)
        #expect(await h.engine.activeSnapshots().isEmpty)
        #expect(await h.store.rollouts[id]?.phase == .succeeded)
    }

    @Test func aFailureAboveTheThresholdHaltsTheWaveAndNothingMoreRuns() async throws {
        let fleet = FakeFleet(
            hosts: Dictionary(uniqueKeysWithValues: (1...6).map { (String(format: "h%02d", $0), "1.0") }))
        await fleet.set("h02") { $0.failInstall = true }
        await fleet.set("h03") { $0.failInstall = true }
        let set = makeSet(
            waves: [WaveSpec(name: "all", size: .rest, approval: .auto, parallel: 1)], maxFailures: .count(1),
            window: nil)
        let h = try await EngineHarness(set: set, fleet: fleet)
        let id = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        let s = try await h.wait(id) { $0.phase == .halted }
        #expect(s.rollout.reason == "wave 1 (all): 2 of 6 hosts failed, more than max_failures 1")
        #expect(s.run("h02")?.phase == .failed && s.run("h03")?.phase == .failed)
        #expect(s.run("h03")?.error == "install exited 1: E: package not found")
        // parallel 1: hosts run in order, so h04.. were never started.
        #expect(await fleet.state("h04")?.ledger == [])
        #expect(await fleet.maxRunning == 1)
    }

    @Test func equalToTheThresholdDoesNotHalt() async throws {
        let fleet = FakeFleet(
            hosts: Dictionary(uniqueKeysWithValues: (1...4).map { (String(format: "h%02d", $0), "1.0") }))
        await fleet.set("h02") { $0.failInstall = true }
        let set = makeSet(
            hosts: 4, waves: [WaveSpec(name: "all", size: .rest, approval: .auto)], maxFailures: .percent(25),
            window: nil)
        let h = try await EngineHarness(set: set, fleet: fleet)
        let id = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        let s = try await h.wait(id) { $0.phase.isFinal }
        #expect(s.phase == .succeeded)
        #expect(s.run("h02")?.phase == .failed)
    }

    @Test func rollbackReturnsEveryChangedHostToItsOwnPrevious() async throws {
        let fleet = FakeFleet(hosts: ["h01": "1.0", "h02": "1.1", "h03": "1.2", "h04": "2.0"])
        let set = makeSet(
            hosts: 4,
            waves: [
                WaveSpec(name: "a", size: .count(2), approval: .auto),
                WaveSpec(name: "b", size: .rest, approval: .operator),
            ],
            window: nil)
        let h = try await EngineHarness(set: set, fleet: fleet)
        let id = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        var s = try await h.wait(id) { $0.phase == .waitingApproval }
        s = try await h.engine.approve(id, planHash: s.rollout.planHash, comment: nil, by: alice)
        s = try await h.wait(id) { $0.phase.isFinal }
        #expect(s.phase == .succeeded)
        _ = try await h.engine.rollback(id, by: bob, reason: "users report crashes")
        s = try await h.wait(id) { $0.phase == .rolledBack }
        #expect(await fleet.state("h01")?.version == "1.0")
        #expect(await fleet.state("h02")?.version == "1.1")
        #expect(await fleet.state("h03")?.version == "1.2")
        #expect(await fleet.state("h04")?.version == "2.0", "already current: not changed, not rolled back")
        #expect(await fleet.state("h04")?.ledger == ["detect"])
        // Newest wave first: h03 (wave b) rolled back before h01 and h02 (wave a).
        let rollbacks = await fleet.log.filter { $0.command.hasPrefix("rollback") }.map(\.host)
        #expect(rollbacks.first == "h03")
    }

    @Test func approvalsBindToThePlanAndNeedDistinctOperators() async throws {
        let fleet = FakeFleet(hosts: ["h01": "1.0", "h02": "1.0"])
        let set = makeSet(
            hosts: 2, waves: [WaveSpec(name: "all", size: .rest, approval: .operator, approvals: 2)], window: nil)
        let h = try await EngineHarness(set: set, fleet: fleet)
        let s = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice)
        let id = s.rollout.id
        await #expect(throws: EngineError.self) {
            try await h.engine.approve(id, planHash: "0000", comment: nil, by: alice)
        }
        _ = try await h.engine.approve(id, planHash: s.rollout.planHash, comment: nil, by: alice)
        do {
            _ = try await h.engine.approve(id, planHash: s.rollout.planHash, comment: nil, by: alice)
            Issue.record("the same operator approved twice")
        } catch let e as EngineError {
            #expect(e.kind == .alreadyApproved)
        }
        #expect(try await h.engine.snapshot(id).phase == .waitingApproval)
        // The inventory changes: the plan would differ, so the approval is refused and the old one voided.
        var changed = set
        changed.inventory.hosts[1].address = "127.0.0.2"
        await h.engine.reload(changed)
        do {
            _ = try await h.engine.approve(id, planHash: s.rollout.planHash, comment: nil, by: bob)
            Issue.record("approval accepted for a changed plan")
        } catch let e as EngineError {
            #expect(e.kind == .planChanged)
        }
        await h.engine.reload(set)
        _ = try await h.engine.approve(id, planHash: s.rollout.planHash, comment: nil, by: bob)
        let done = try await h.wait(id) { $0.phase.isFinal }
        #expect(done.phase == .succeeded)
        let audit = await h.store.auditLog.map { "\($0.user) \($0.action) \($0.outcome)" }
        #expect(audit.contains("alice rollout.approve error: already_approved"))
        #expect(audit.contains("bob rollout.approve error: plan_changed"))
    }

    @Test func anInstallWhoseResultIsLostIsSettledByDetect() async throws {
        let fleet = FakeFleet(hosts: ["h01": "1.0", "h02": "1.0"])
        await fleet.set("h01") { $0.loseNextInstallResult = true }
        let set = makeSet(hosts: 2, waves: [WaveSpec(name: "all", size: .rest, approval: .auto)], window: nil)
        let h = try await EngineHarness(set: set, fleet: fleet)
        let id = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        let s = try await h.wait(id) { $0.phase.isFinal }
        #expect(s.phase == .succeeded)
        #expect(await fleet.state("h01")?.ledger == ["detect", "install '2.0'", "detect", "verify '2.0'"])
    }

    @Test func aKilledDaemonResumesWithoutRepeatingANonIdempotentInstall() async throws {
        let fleet = FakeFleet(
            hosts: Dictionary(uniqueKeysWithValues: (1...6).map { (String(format: "h%02d", $0), "1.0") }))
        let set = makeSet(waves: [WaveSpec(name: "all", size: .rest, approval: .auto, parallel: 2)], window: nil)
        let h = try await EngineHarness(set: set, fleet: fleet)
        let id = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        // Crash as soon as some installs went out.
        try await until { await fleet.log.filter { $0.command.hasPrefix("install") }.count >= 2 }
        try await h.crashAndRestart(set: set)
        let s = try await h.wait(id) { $0.phase.isFinal || $0.phase.waitsForPerson }
        for host in ["h01", "h02", "h03", "h04", "h05", "h06"] {
            let installs = await fleet.state(host)?.ledger.filter { $0.hasPrefix("install") }.count ?? 0
            #expect(installs <= 1, "\(host) installed \(installs) times")
        }
        #expect(s.phase == .succeeded, "\(s.hostRuns.map { "\($0.host): \($0.phase.rawValue) \($0.error ?? "")" })")
    }
}
