import Testing

@testable import ITVCore

private typealias F = RolloutFixture

/// Wave 1 `a` (auto, one host) then wave 2 `b` with the given approval.
private func waitingForWave2(
    _ approval: ApprovalKind, approvals: Int = 1, window: String? = nil, windowOpen: Bool = false
) -> RolloutDriver {
    var d = RolloutDriver(
        F.plan([F.wave("a", 1), F.wave("b", 2, approval, approvals: approvals)]), F.recipe(window: window),
        windowOpen: window != nil)
    d.send(.start)
    d.send(.windowChanged(open: windowOpen, by: "timer"))  // wave 1 started in the open window
    d.succeed("a1")
    return d
}

@Test func autoWavesStartByThemselvesAndRecordWhy() {
    var d = RolloutDriver(F.plan([F.wave("a", 1), F.wave("b", 1)]))
    let actions = d.send(.start)
    #expect(actions.notices == [.waveStarted(wave: 0)])
    #expect(d.snapshot.approvals.map(\.source) == [.auto])
    #expect(d.snapshot.approvals.first?.planHash == F.planHash)
    d.succeed("a1")
    #expect(d.hostPhase("b1") == .running)
    #expect(d.snapshot.approvals.map(\.wave) == [0, 1])
}

@Test func operatorWaveWaitsForOneApproval() {
    var d = waitingForWave2(.operator)
    #expect(d.phase == .waitingApproval && d.wavePhase(1) == .waitingApproval)
    #expect(d.hostPhase("b1") == .pending)
    let actions = d.send(.approve(F.approval(wave: 1, uid: 1000, user: "alice")))
    #expect(actions.notices.contains(.waveApproved(wave: 1, by: "alice", complete: true)))
    #expect(actions.steps == ["b1:detect", "b2:detect"])
    let approval = d.snapshot.approvals.last
    #expect(approval?.user == "alice" && approval?.uid == 1000 && approval?.comment == "looks good")
    #expect(approval?.source == .operator && approval?.at == d.now)
}

@Test func fourEyesNeedTwoDifferentUsers() {
    var d = waitingForWave2(.operator, approvals: 2)
    let first = d.send(.approve(F.approval(wave: 1, uid: 1000, user: "alice")))
    #expect(first.notices == [.waveApproved(wave: 1, by: "alice", complete: false)])
    #expect(first.steps.isEmpty && d.phase == .waitingApproval)
    // The same Unix user again, even under another name, does not count twice.
    #expect(d.refuse(.approve(F.approval(wave: 1, uid: 1000, user: "alice"))) == "already_approved")
    #expect(d.refuse(.approve(F.approval(wave: 1, uid: 1000, user: "root-alias"))) == "already_approved")
    let second = d.send(.approve(F.approval(wave: 1, uid: 1001, user: "bob")))
    #expect(second.notices.contains(.waveApproved(wave: 1, by: "bob", complete: true)))
    #expect(d.phase == .running && d.hostPhase("b1") == .running)
    #expect(d.sm.validApprovals(wave: 1).map(\.uid) == [1000, 1001])
}

@Test func approvalOfAnotherPlanIsRefused() {
    var d = waitingForWave2(.operator)
    #expect(d.refuse(.approve(F.approval(wave: 1, hash: "plan-hash-0"))) == "plan_changed")
}

@Test func planChangeVoidsEarlierApprovalsAndRefusesNewOnesButKeepsTheRecords() {
    var d = waitingForWave2(.operator, approvals: 2)
    d.send(.approve(F.approval(wave: 1, uid: 1000, user: "alice")))
    d.send(.planChanged(hash: "plan-hash-2"))
    #expect(d.sm.validApprovals(wave: 1).isEmpty)
    #expect(d.snapshot.approvals.contains { $0.uid == 1000 })  // audit: never removed
    #expect(d.refuse(.approve(F.approval(wave: 1, uid: 1001, user: "bob"))) == "plan_changed")
    #expect(d.refuse(.approve(F.approval(wave: 1, uid: 1001, user: "bob", hash: "plan-hash-2"))) == "plan_changed")
    #expect(d.phase == .waitingApproval)
    // The plan is back to what was approved: the earlier approval counts again.
    d.send(.planChanged(hash: F.planHash))
    #expect(d.sm.validApprovals(wave: 1).count == 1)
    d.send(.approve(F.approval(wave: 1, uid: 1001, user: "bob")))
    #expect(d.phase == .running)
}

@Test func approvingAWaveThatIsNotWaitingIsAConflict() {
    var d = waitingForWave2(.operator)
    #expect(d.refuse(.approve(F.approval(wave: 0))) == "conflict")  // done already
    #expect(d.refuse(.approve(F.approval(wave: 2))) == "conflict")  // no such wave
    d.approve(1)
    #expect(d.refuse(.approve(F.approval(wave: 1, uid: 1001))) == "conflict")  // running now
}

@Test func autoAndWindowWavesCannotBeApprovedByHand() {
    var d = waitingForWave2(.window, window: "evening")
    #expect(d.phase == .waitingApproval)
    #expect(d.refuse(.approve(F.approval(wave: 1))) == "conflict")
}

@Test func anApprovalIsStoredForThisRollout() {
    var d = waitingForWave2(.operator)
    d.send(.approve(F.approval(wave: 1, rollout: 99)))
    #expect(d.snapshot.approvals.allSatisfy { $0.rolloutID == 1 })
}

@Test func windowWaveStartsWhenTheWindowOpens() {
    var d = waitingForWave2(.window, window: "evening")
    #expect(d.send(.windowChanged(open: false, by: "timer")).isEmpty)
    let actions = d.send(.windowChanged(open: true, by: "itvd-window@evening"))
    #expect(actions.steps == ["b1:detect", "b2:detect"])
    #expect(actions.notices.contains(.waveApproved(wave: 1, by: "itvd-window@evening", complete: true)))
    #expect(d.snapshot.approvals.last?.source == .window)
}

@Test func windowWaveEnteredWhileTheWindowIsOpenStartsAtOnce() {
    let d = waitingForWave2(.window, window: "evening", windowOpen: true)
    #expect(d.phase == .running && d.hostPhase("b1") == .running)
    #expect(d.snapshot.approvals.last?.source == .window)
    // The journal says so, as when the window opens while the wave waits.
    #expect(d.log.notices.contains(.waveApproved(wave: 1, by: "itvd", complete: true)))
}

@Test func windowWaveStartsOnResumeWhenTheWindowOpenedWhilePaused() {
    var d = waitingForWave2(.window, window: "evening")
    d.send(.pause(by: "bob"))
    #expect(d.send(.windowChanged(open: true, by: "timer")).steps.isEmpty)
    #expect(d.send(.resume(by: "bob")).steps == ["b1:detect", "b2:detect"])
    #expect(d.phase == .running)
}

@Test func anUnattendedWaveWaitsWhileThePlanChangedAndSaysWhy() {
    var d = RolloutDriver(F.plan([F.wave("a", 1), F.wave("b", 1)]))
    d.send(.start)
    d.send(.planChanged(hash: "plan-hash-2"))
    d.succeed("a1")
    #expect(d.phase == .waitingApproval && d.hostPhase("b1") == .pending)
    #expect(d.refuse(.approve(F.approval(wave: 1))) == "plan_changed")
    // The plan is back to the one that was made: the auto wave goes on by itself.
    #expect(d.send(.planChanged(hash: F.planHash)).steps == ["b1:detect"])
}

@Test func approvalsAreKeptThroughARestart() {
    var d = waitingForWave2(.operator, approvals: 2)
    d.send(.approve(F.approval(wave: 1, uid: 1000, user: "alice")))
    let stored = d.snapshot
    d.sm = RolloutStateMachine(snapshot: stored)
    d.send(.recover)
    #expect(d.refuse(.approve(F.approval(wave: 1, uid: 1000, user: "alice"))) == "already_approved")
    d.send(.approve(F.approval(wave: 1, uid: 1001, user: "bob")))
    #expect(d.phase == .running)
}
