import Testing

@testable import ITVCore

private typealias F = RolloutFixture

/// Three auto waves [a1, a2], [b1, b2], [c1, c2], run to success with distinct previous versions (a1 had 1.1, ...).
private func succeededThreeWaves(idempotent: Bool = false) -> RolloutDriver {
    var d = RolloutDriver(
        F.plan([F.wave("a", 2), F.wave("b", 2), F.wave("c", 2)]),
        F.recipe(idempotent: idempotent, maxFailures: .count(2)))
    d.send(.start)
    d.succeed("a1", found: "1.1")
    d.finish("a2", .detect, F.ok(F.target))  // already current: nothing to roll back
    d.succeed("b1", found: "1.3")
    d.succeed("b2", found: "")  // nothing installed before
    d.succeed("c1", found: "1.5")
    d.succeed("c2", found: "1.6")
    return d
}

// MARK: - Rollback

@Test func rollbackRunsOnlyOnChangedHostsNewestWaveFirstEachWithItsOwnPrevious() {
    var d = succeededThreeWaves()
    #expect(d.phase == .succeeded && d.hostPhase("a2") == .alreadyCurrent)
    let start = d.log.count
    #expect(d.send(.rollback(by: "bob", reason: "crashes on start")).steps == ["c1:rollback", "c2:rollback"])
    #expect(d.sm.rollout.reason == "crashes on start")
    #expect(d.finish("c1", .rollback, F.ok()).steps.isEmpty)  // c2 still rolling back: wave b waits
    #expect(d.finish("c2", .rollback, F.ok()).steps == ["b1:rollback", "b2:rollback"])
    d.finish("b1", .rollback, F.ok())
    #expect(d.finish("b2", .rollback, F.ok()).steps == ["a1:rollback"])  // a2 was not changed
    let last = d.finish("a1", .rollback, F.ok())
    #expect(d.phase == .rolledBack && last.notices.contains(.rolledBack))
    #expect(d.hostPhase("a2") == .alreadyCurrent)
    // Each host went back to its own previous version, in this order.
    let versions = d.log[start...].compactMap { action -> String? in
        if case .recordHostVersion(let host, let version) = action { return "\(host)=\(version ?? "-")" }
        return nil
    }
    #expect(versions == ["c1=1.5", "c2=1.6", "b1=1.3", "b2=-", "a1=1.1"])
    for host in ["a1", "b1", "b2", "c1", "c2"] {
        #expect(d.log.notices.contains(.hostRolledBack(host: host, ok: true, message: nil)))
    }
}

@Test func someRollbacksFailingEndsFailedAndARetryCanFinishIt() {
    var d = succeededThreeWaves()
    d.send(.rollback(by: "bob", reason: "bad"))
    d.finish("c1", .rollback, F.exit(2, "E: 1.5 not available"))
    #expect(d.hostPhase("c1") == .rollbackFailed && d.run("c1").error?.contains("not available") == true)
    d.finish("c2", .rollback, F.ok())
    d.finish("b1", .rollback, F.notRun)
    d.finish("b2", .rollback, F.ok())
    let end = d.finish("a1", .rollback, F.ok())
    #expect(d.phase == .failed)
    #expect(end.notices.contains { if case .failed = $0 { true } else { false } })
    #expect(d.sm.rollout.reason?.contains("2 host(s)") == true)
    #expect(d.refuse(.retry(host: "a1", by: "bob")) == "conflict")  // rolled back fine
    #expect(d.send(.retry(host: "c1", by: "bob")).steps == ["c1:rollback"])
    #expect(d.phase == .rollingBack)
    d.finish("c1", .rollback, F.ok())
    #expect(d.phase == .failed)  // b1 still could not be rolled back
    d.send(.retry(host: "b1", by: "bob"))
    d.finish("b1", .rollback, F.ok())
    #expect(d.phase == .rolledBack)
}

@Test func aRollbackWithUnknownOutcomeIsSettledByDetect() {
    var d = succeededThreeWaves()
    d.send(.rollback(by: "bob", reason: "bad"))
    #expect(d.finish("c1", .rollback, F.lost).steps == ["c1:detect"])
    d.finish("c1", .detect, F.ok("1.5"))  // its previous: the rollback worked
    #expect(d.hostPhase("c1") == .rolledBack)
    #expect(d.finish("c2", .rollback, F.lost).steps == ["c2:detect"])
    d.finish("c2", .detect, F.ok(F.target))  // still the new version
    #expect(d.hostPhase("c2") == .rollbackFailed && d.run("c2").errorKind == "outcome_unknown")
    // A host that had nothing installed before: detect printing nothing means it worked.
    d.send(.skip(host: "c2", by: "bob"))
    d.finish("b1", .rollback, F.ok())
    d.finish("b2", .rollback, F.lost)
    d.finish("b2", .detect, F.ok(""))
    #expect(d.hostPhase("b2") == .rolledBack)
}

@Test func noHostOfAnOlderWaveRollsBackWhileANewerWaveRunsForward() {
    var d = RolloutDriver(F.plan([F.wave("a", 1), F.wave("b", 2)]), F.recipe(maxFailures: .count(2)))
    d.send(.start)
    d.succeed("a1")
    d.succeed("b1")
    d.finish("b2", .detect, F.ok(F.old))  // b2 install in flight
    #expect(d.send(.rollback(by: "bob", reason: "bad")).steps == ["b1:rollback"])
    d.finish("b1", .rollback, F.ok())
    #expect(d.hostPhase("a1") == .succeeded)  // b2 still runs forward
    // b2's install ends: no verify now; it was changed, so it is rolled back before a1.
    #expect(d.finish("b2", .install, F.ok()).steps == ["b2:rollback"])
    #expect(d.hostPhase("b2") == .rollingBack && d.hostPhase("a1") == .succeeded)
    #expect(d.finish("b2", .rollback, F.ok()).steps == ["a1:rollback"])
    d.finish("a1", .rollback, F.ok())
    #expect(d.phase == .rolledBack)
}

@Test func anInstallWithUnknownOutcomeDuringARollbackIsRolledBackNotSkipped() {
    var d = RolloutDriver(F.plan([F.wave("a", 2)]), F.recipe(idempotent: true, maxFailures: .count(2)))
    d.send(.start)
    d.succeed("a1")
    d.finish("a2", .detect, F.ok(F.old))
    d.send(.rollback(by: "bob", reason: "bad"))
    #expect(d.finish("a2", .install, F.lost).steps.contains("a2:detect"))
    // The host runs something else than the target: the install is not sent again during a rollback...
    let actions = d.finish("a2", .detect, F.ok("1.9"))
    #expect(!actions.steps.contains("a2:install"))
    // ...and the host, which the install may have changed, is rolled back, not skipped as "not installed".
    #expect(d.hostPhase("a2") != .skipped)
    #expect(d.run("a2").changed)
    d.finish("a1", .rollback, F.ok())
    if d.run("a2").step == .rollback && d.run("a2").stepInFlight { d.finish("a2", .rollback, F.ok()) }
    #expect(d.hostPhase("a2") == .rolledBack)
    #expect(d.phase == .rolledBack)
}

// MARK: - Abort

@Test func nothingIsDispatchedAfterAbortAndStepsInFlightAreRecorded() {
    var d = RolloutDriver(F.plan([F.wave("a", 4, parallel: 3), F.wave("b", 1)]), F.recipe(maxFailures: .count(4)))
    d.send(.start)
    d.finish("a2", .detect, F.ok(F.old))  // a2: install in flight
    d.finish("a3", .detect, F.ok(F.old))
    d.finish("a3", .install, F.ok())  // a3: verify in flight
    let abort = d.send(.abort(by: "bob", reason: "vendor pulled the release"))
    #expect(abort.steps.isEmpty && abort.notices == [.aborted(reason: "vendor pulled the release")])
    let logged = d.log.count
    // a1's detect ends: no install after an aborted detect.
    #expect(d.finish("a1", .detect, F.ok(F.old)).steps.isEmpty)
    #expect(d.hostPhase("a1") == .skipped && !d.run("a1").changed)
    // a2's install result is recorded; no verify is started.
    #expect(d.finish("a2", .install, F.ok()).steps.isEmpty)
    #expect(d.run("a2").changed && d.hostPhase("a2") == .unknown)
    // a3's verify result is recorded.
    d.finish("a3", .verify, F.ok())
    #expect(d.hostPhase("a3") == .succeeded)
    #expect(d.hostPhase("a4") == .pending && d.hostPhase("b1") == .pending)
    #expect(d.log[logged...].filter { if case .runStep = $0 { true } else { false } }.isEmpty)
    #expect(d.phase == .aborted)
    // Nothing restarts it.
    for event: RolloutInput in [.recover, .windowChanged(open: true, by: "t"), .bakeElapsed(wave: 0)] {
        #expect(d.send(event).steps.isEmpty)
    }
    #expect(d.refuse(.retry(host: "a2", by: "bob")) == "conflict")
    #expect(d.refuse(.resume(by: "bob")) == "conflict")
}

@Test func anUnknownInstallAfterAbortIsSettledByDetectButNeverSentAgain() {
    var d = RolloutDriver(F.plan([F.wave("a", 1)]), F.recipe(idempotent: true))
    d.send(.start)
    d.finish("a1", .detect, F.ok(F.old))
    d.send(.abort(by: "bob", reason: "stop"))
    #expect(d.finish("a1", .install, F.lost).steps == ["a1:detect"])  // read-only: allowed
    #expect(d.finish("a1", .detect, F.ok(F.old)).steps.isEmpty)
    #expect(d.hostPhase("a1") == .unknown && d.run("a1").changed)
    #expect(d.log.steps.filter { $0 == "a1:install" }.count == 1)
}

@Test func abortWhileWaitingOrPausedIsFinal() {
    var d = RolloutDriver(F.plan([F.wave("a", 1, .operator)]))
    d.send(.start)
    #expect(d.wavePhase(0) == .waitingApproval)
    d.send(.abort(by: "bob", reason: "no"))
    #expect(d.refuse(.approve(F.approval(wave: 0))) == "conflict")
    #expect(d.hostPhase("a1") == .pending && d.phase == .aborted && d.phase.isFinal)
    // `rollout show` must not list the wave as waiting for an approval that can never come.
    #expect(d.wavePhase(0) == .pending)
}

@Test func abortOrRollbackStopsTheWaves() {
    // A running wave dispatches nothing more: halted (its host run in flight finishes).
    var d = RolloutDriver(F.plan([F.wave("a", 2, parallel: 1)]))
    d.send(.start)
    #expect(d.wavePhase(0) == .running)
    d.send(.abort(by: "bob", reason: "stop"))
    #expect(d.wavePhase(0) == .halted)
    d.finish("a1", .detect, F.ok(F.target))
    #expect(d.wavePhase(0) == .halted && d.hostPhase("a2") == .pending)
    // A rollback while the next wave waits for its approval: that wave never starts.
    var r = RolloutDriver(F.plan([F.wave("a", 1), F.wave("b", 1, .operator)]))
    r.send(.start)
    r.finish("a1", .detect, F.ok(F.old))
    r.finish("a1", .install, F.ok())
    r.finish("a1", .verify, F.ok())
    #expect(r.wavePhase(1) == .waitingApproval)
    r.send(.rollback(by: "bob", reason: "bad"))
    #expect(r.wavePhase(0) == .done && r.wavePhase(1) == .pending)
    r.finish("a1", .rollback, F.ok())
    #expect(r.phase == .rolledBack && r.wavePhase(1) == .pending)
}

@Test func whileDispatchIsHeldAStepNotSentPutsItsHostBackAndNothingStarts() {
    var d = RolloutDriver(F.plan([F.wave("a", 3, parallel: 1)]))
    d.send(.start)
    #expect(d.inFlight == ["a1"])
    d.sm.dispatchHeld = true  // the daemon stops
    // a1's detect was not sent: a1 is pending again and is not dispatched again (no loop of not-sent steps).
    #expect(d.send(.stepNotSent(host: "a1", step: .detect)).steps.isEmpty)
    #expect(d.hostPhase("a1") == .pending && d.inFlight.isEmpty)
    // After a restart (dispatch no longer held) the wave goes on from a1.
    d.sm = RolloutStateMachine(snapshot: d.snapshot)
    #expect(d.send(.recover).steps == ["a1:detect"])
    // A host run that ends while dispatch is held does not start the next one.
    d.succeed("a1")
    #expect(d.inFlight == ["a2"])
    d.sm.dispatchHeld = true
    d.succeed("a2")
    #expect(d.inFlight.isEmpty && d.hostPhase("a3") == .pending)
}

// MARK: - Recovery

/// A restart: a new machine from the stored snapshot, then `.recover`.
private func restart(_ d: inout RolloutDriver) -> [RolloutAction] {
    d.sm = RolloutStateMachine(snapshot: d.snapshot)
    return d.send(.recover)
}

@Test func recoveryRunsAReadOnlyStepInFlightAgain() {
    var d = RolloutDriver(F.plan([F.wave("a", 2)]))
    d.send(.start)
    d.finish("a2", .detect, F.ok(F.old))
    d.finish("a2", .install, F.ok())
    let snapshot = d.snapshot
    #expect(restart(&d).steps == ["a1:detect", "a2:verify"])
    #expect(d.snapshot.hostRuns == snapshot.hostRuns)
}

@Test func recoveryOfAnInstallInFlightAsksDetect() {
    for idempotent in [false, true] {
        var d = RolloutDriver(F.plan([F.wave("a", 3)]), F.recipe(idempotent: idempotent, maxFailures: .count(3)))
        d.send(.start)
        for host in ["a1", "a2", "a3"] { d.finish(host, .detect, F.ok(F.old)) }
        #expect(restart(&d).steps == ["a1:detect", "a2:detect", "a3:detect"])
        #expect(d.snapshot.hostRuns.allSatisfy { $0.changed && $0.step == .detect && $0.stepInFlight })
        // a1 had installed: verify.
        #expect(d.finish("a1", .detect, F.ok(F.target)).steps == ["a1:verify"])
        // a2 had not: install again only when idempotent.
        let a2 = d.finish("a2", .detect, F.ok(F.old))
        #expect(a2.steps == (idempotent ? ["a2:install"] : []))
        #expect(d.hostPhase("a2") == (idempotent ? .running : .unknown))
        // a3: detect fails: unknown.
        d.finish("a3", .detect, F.notRun)
        #expect(d.hostPhase("a3") == .unknown)
    }
}

@Test func recoveryOfARollbackInFlightAsksDetect() {
    var d = succeededThreeWaves()
    d.send(.rollback(by: "bob", reason: "bad"))
    #expect(restart(&d).steps == ["c1:detect", "c2:detect"])
    d.finish("c1", .detect, F.ok("1.5"))
    d.finish("c2", .detect, F.ok(F.target))
    #expect(d.hostPhase("c1") == .rolledBack && d.hostPhase("c2") == .rollbackFailed)
}

@Test func recoveryWhileBakingBakesAgainInFull() {
    var d = RolloutDriver(F.plan([F.wave("a", 1, bake: 7200), F.wave("b", 1)]))
    d.send(.start)
    d.succeed("a1")
    #expect(d.phase == .baking)
    #expect(restart(&d).contains(.scheduleBake(wave: 0, seconds: 7200)))
    d.send(.bakeElapsed(wave: 0))
    #expect(d.hostPhase("b1") == .running)
}

@Test func recoveryOfARunningHostBetweenStepsStartsItOver() {
    // Not reachable through events (each step's intent is committed with the previous result), but a
    // snapshot written by hand or by an older daemon may hold it.
    var d = RolloutDriver(F.plan([F.wave("a", 1)]), F.recipe(idempotent: false))
    d.send(.start)
    d.finish("a1", .detect, F.ok(F.old))
    var snapshot = d.snapshot
    snapshot.hostRuns[0].stepInFlight = false
    d.sm = RolloutStateMachine(snapshot: snapshot)
    #expect(d.send(.recover).steps == ["a1:detect"])
    // install was intended (maybe sent): detect settles it like an unknown install.
    d.finish("a1", .detect, F.ok(F.old))
    #expect(d.hostPhase("a1") == .unknown)
}

@Test func aRetriedHostThatAnEarlierInstallChangedIsRolledBackWhenTheRollbackInterruptsIt() {
    var d = RolloutDriver(F.plan([F.wave("a", 2)]), F.recipe(maxFailures: .count(1)))
    d.send(.start)
    d.finish("a1", .detect, F.ok(F.old))
    d.finish("a1", .install, F.exit(1))  // changed, failed
    #expect(d.send(.retry(host: "a1", by: "bob")).steps == ["a1:detect"])
    d.send(.rollback(by: "bob", reason: "bad"))
    d.finish("a1", .detect, F.ok("1.9"))  // no install now; it is rolled back instead
    #expect(d.run("a1").step == .rollback && d.hostPhase("a1") == .rollingBack)
    d.finish("a1", .rollback, F.ok())
    d.finish("a2", .detect, F.ok(F.old))
    #expect(d.hostPhase("a2") == .skipped && d.phase == .rolledBack)
    #expect(d.log.contains(.recordHostVersion(host: "a1", version: F.old)))
}

@Test func recoveryWhilePausedDuringABakeStillBakes() {
    var d = RolloutDriver(F.plan([F.wave("a", 1, bake: 7200), F.wave("b", 1)]))
    d.send(.start)
    d.succeed("a1")
    d.send(.pause(by: "bob"))
    // The bake timer is lost with the daemon; without a new one the rollout would bake for ever.
    #expect(restart(&d).contains(.scheduleBake(wave: 0, seconds: 7200)))
    d.send(.bakeElapsed(wave: 0))
    d.send(.resume(by: "bob"))
    #expect(d.hostPhase("b1") == .running)
}
