import Testing

@testable import ITVCore

private typealias F = RolloutFixture

// MARK: - Windows

@Test func nothingIsDispatchedWhileTheRecipeWindowIsClosed() {
    var d = RolloutDriver(F.plan([F.wave("a", 3)]), F.recipe(window: "evening"))
    #expect(d.send(.start).steps.isEmpty)
    #expect(d.phase == .running)
    #expect(d.send(.windowChanged(open: false, by: "timer")).steps.isEmpty)
    #expect(d.send(.recover).steps.isEmpty)
    #expect(d.snapshot.hostRuns.allSatisfy { $0.phase == .pending })
    #expect(d.send(.windowChanged(open: true, by: "timer")).steps == ["a1:detect", "a2:detect", "a3:detect"])
}

@Test func runsInFlightFinishWhenTheWindowClosesAndTheRestWaitForTheNextOpening() {
    var d = RolloutDriver(F.plan([F.wave("a", 4, parallel: 2)]), F.recipe(window: "evening"), windowOpen: true)
    #expect(d.send(.start).steps == ["a1:detect", "a2:detect"])
    d.send(.windowChanged(open: false, by: "timer"))
    // a1 and a2 started: their next steps still run.
    #expect(d.finish("a1", .detect, F.ok(F.old)).steps == ["a1:install"])
    #expect(d.finish("a1", .install, F.ok()).steps == ["a1:verify"])
    // a1 is done: a free slot, but the window is closed.
    #expect(d.finish("a1", .verify, F.ok()).steps.isEmpty)
    d.succeed("a2")
    #expect(d.hostPhase("a3") == .pending && d.hostPhase("a4") == .pending && d.phase == .running)
    #expect(d.send(.windowChanged(open: true, by: "timer")).steps == ["a3:detect", "a4:detect"])
    d.succeed("a3")
    d.succeed("a4")
    #expect(d.phase == .succeeded)
}

// MARK: - max_failures

/// One wave of `hosts` hosts, all running detect, then `failures` of them fail and the rest succeed.
private func wave(
    hosts: Int, failures: Int, _ threshold: FailureThreshold, onFailure: FailurePolicy = .halt
) -> RolloutDriver {
    var d = RolloutDriver(
        F.plan([F.wave("a", hosts), F.wave("b", 1)]), F.recipe(maxFailures: threshold, onFailure: onFailure))
    d.send(.start)
    for i in 0..<hosts {
        if i < failures { d.failDetect("a\(i + 1)") } else { d.succeed("a\(i + 1)") }
    }
    return d
}

@Test(arguments: [
    // (hosts, max_failures, failures that are still fine)
    (5, FailureThreshold.count(0), 0), (5, .count(1), 1), (5, .count(2), 2), (10, .percent(20), 2),
    (10, .percent(25), 2), (4, .percent(50), 2), (3, .percent(50), 1), (20, .percent(5), 1), (1, .count(0), 0),
    (1, .percent(99), 0), (1, .percent(100), 1), (1, .count(1), 1),
])
func failuresUpToMaxFailuresDoNotHaltAndOneMoreDoes(hosts: Int, threshold: FailureThreshold, allowed: Int) {
    let equal = wave(hosts: hosts, failures: allowed, threshold)
    #expect(equal.phase == .running && equal.hostPhase("b1") == .running, "\(allowed) of \(hosts), \(threshold)")
    guard allowed < hosts else { return }
    let more = wave(hosts: hosts, failures: allowed + 1, threshold)
    #expect(more.phase == .halted, "\(allowed + 1) of \(hosts), \(threshold)")
    #expect(more.wavePhase(0) == .halted && more.hostPhase("b1") == .pending)
    #expect(more.log.notices.contains { if case .halted = $0 { true } else { false } })
    #expect(more.sm.rollout.reason?.contains("max_failures \(threshold)") == true)
}

@Test func aHaltStopsDispatchingButRunsInFlightFinish() {
    var d = RolloutDriver(F.plan([F.wave("a", 5, parallel: 3)]), F.recipe(maxFailures: .count(0)))
    #expect(d.send(.start).steps == ["a1:detect", "a2:detect", "a3:detect"])
    #expect(d.finish("a1", .detect, F.exit(1)).steps.isEmpty)
    #expect(d.phase == .halted)
    #expect(d.finish("a2", .detect, F.ok(F.old)).steps == ["a2:install"])
    d.finish("a2", .install, F.ok())
    d.finish("a2", .verify, F.ok())
    d.failDetect("a3")
    #expect(d.phase == .halted)
    #expect(d.hostPhase("a4") == .pending && d.hostPhase("a5") == .pending)
    #expect(d.log.steps.filter { $0.hasPrefix("a4") || $0.hasPrefix("a5") }.isEmpty)
    // The operator looked and lets it go on.
    #expect(d.send(.resume(by: "bob")).steps == ["a4:detect", "a5:detect"])
    d.succeed("a4")
    d.succeed("a5")
    #expect(d.phase == .succeeded)
}

@Test func anUnknownHostCountsAsAFailure() {
    var d = RolloutDriver(F.plan([F.wave("a", 2)]), F.recipe(maxFailures: .count(0)))
    d.send(.start)
    d.finish("a1", .detect, F.ok(F.old))
    d.finish("a1", .install, F.ok())
    d.finish("a1", .verify, F.lost)
    #expect(d.phase == .halted)
}

@Test func anEmptyWaveCompletesAtOnce() {
    var d = RolloutDriver(F.plan([F.wave("a", 1), F.wave("e", 0, bake: 600), F.wave("b", 1)]))
    d.send(.start)
    let actions = d.finish("a1", .detect, F.ok(F.target))
    #expect(actions.notices.contains(.waveDone(wave: 1)))
    #expect(!actions.contains(.scheduleBake(wave: 1, seconds: 600)))
    #expect(d.wavePhase(1) == .done && d.hostPhase("b1") == .running)

    // Empty waves only: succeeded at start.
    var e = RolloutDriver(F.plan([F.wave("e", 0), F.wave("f", 0, .operator)]))
    e.send(.start)
    #expect(e.phase == .waitingApproval)  // an operator wave still needs its approval
    e.approve(1)
    #expect(e.phase == .succeeded)
}

@Test func onFailureRollbackRollsBackWhatTheRolloutChanged() {
    var d = RolloutDriver(
        F.plan([F.wave("a", 3, parallel: 1), F.wave("b", 1)]),
        F.recipe(maxFailures: .count(0), onFailure: .rollback))
    d.send(.start)
    d.succeed("a1", found: "1.5")
    d.finish("a2", .detect, F.ok("1.6"))
    let actions = d.finish("a2", .install, F.exit(1))
    #expect(d.phase == .rollingBack)
    #expect(actions.notices.contains { if case .rollingBack = $0 { true } else { false } })
    #expect(actions.steps == ["a1:rollback"])  // the wave's parallel holds for the rollback too
    #expect(d.hostPhase("a3") == .pending)  // never started
    #expect(d.finish("a1", .rollback, F.ok()).steps == ["a2:rollback"])
    d.finish("a2", .rollback, F.ok())
    #expect(d.phase == .rolledBack && d.hostPhase("a3") == .pending)
    #expect(d.log.contains(.recordHostVersion(host: "a1", version: "1.5")))
    #expect(d.log.contains(.recordHostVersion(host: "a2", version: "1.6")))
}

@Test func onFailureRollbackWithoutARollbackStepHalts() {
    var d = RolloutDriver(
        F.plan([F.wave("a", 2)]), F.recipe(maxFailures: .count(0), onFailure: .rollback, rollbackStep: false))
    d.send(.start)
    d.failDetect("a1")
    #expect(d.phase == .halted)
}

@Test func aThresholdExceededWhilePausedHaltsOnResume() {
    var d = RolloutDriver(F.plan([F.wave("a", 3)]), F.recipe(maxFailures: .count(0)))
    d.send(.start)
    d.send(.pause(by: "bob"))
    d.failDetect("a1")
    #expect(d.phase == .paused)
    d.send(.resume(by: "bob"))
    #expect(d.phase == .halted)
}

// MARK: - parallel

@Test(arguments: [1, 2, 3, 7])
func neverMoreThanParallelHostRunsOfAWaveAtOnce(parallel: Int) {
    var d = RolloutDriver(F.plan([F.wave("a", 7, parallel: parallel)]), F.recipe(maxFailures: .count(7)))
    var rng = RolloutRandom(seed: UInt64(parallel))
    d.send(.start)
    var seen = 0
    while let host = d.inFlight.randomElement(using: &rng) {
        let running = d.snapshot.hostRuns.filter { $0.phase == .running }.count
        #expect(running <= parallel)
        seen = max(seen, running)
        let run = d.run(host)
        guard let step = run.step else { break }
        let result = rng.next() % 5 == 0 ? F.exit(1) : (step == .detect ? F.ok(F.old) : F.ok())
        d.finish(host, step, result)
    }
    #expect(seen == parallel)
    #expect(d.phase == .succeeded)
    #expect(d.snapshot.hostRuns.allSatisfy { $0.phase.isSettled })
}
