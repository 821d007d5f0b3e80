import Testing

@testable import ITVCore

// Unreached hosts are deferred, not failed (issue 13): retries, deadlines, max_unreached, catching up,
// Wake-on-LAN leads. Pure: times are the driver's `now`.

private typealias F = RolloutFixture

private func timers(_ actions: [RolloutAction]) -> [EpochMillis] {
    actions.compactMap { if case .scheduleTimer(let at) = $0 { at } else { nil } }
}

private func wakes(_ actions: [RolloutAction]) -> [String] {
    actions.compactMap { if case .wake(let host) = $0 { host } else { nil } }
}

/// One auto wave of `n` hosts (`a1`...), started; every host's detect in flight.
private func startedWave(
    _ n: Int = 4, retry: Int64 = 60, deadline: Int64 = 3_600, maxUnreached: FailureThreshold = .percent(50),
    waves: [RolloutFixture.W]? = nil, wakeLeads: [String: Int64] = [:]
) -> RolloutDriver {
    var d = RolloutDriver(
        F.plan(waves ?? [F.wave("a", n)]),
        F.recipe(retryUnreached: retry, reachDeadline: deadline, maxUnreached: maxUnreached), wakeLeads: wakeLeads)
    d.send(.start)
    return d
}

@Test func aHostNotReachedAtItsFirstContactIsDeferredNotFailed() {
    var d = startedWave()
    let actions = d.finish("a1", .detect, F.notRun)
    #expect(d.hostPhase("a1") == .deferred)
    #expect(d.run("a1").deferReason == "unreached" && d.run("a1").errorKind == "connect_failed")
    #expect(d.run("a1").nextAttemptAt == d.now + 60_000 && d.run("a1").deferrals == 1)
    #expect(d.sm.failures(inWave: 0) == 0)  // not counted against max_failures (0 here)
    #expect(d.phase == .running)
    #expect(actions.contains(.releaseHost(host: "a1")))
    #expect(
        actions.notices.contains {
            if case .hostDeferred(host: "a1", reason: .unreached, _, _) = $0 { true } else { false }
        })
    #expect(timers(actions) == [d.now + 60_000])
    // A connect timeout is deferred too.
    d.finish("a2", .detect, .notRun(kind: "timeout", message: "no answer in 10s"))
    #expect(d.hostPhase("a2") == .deferred)
}

@Test(arguments: ["auth_failed", "hostkey_mismatch", "hostkey_unknown", "protocol_error"])
func securityAndConfigurationFaultsStayFailures(_ kind: String) {
    var d = startedWave()
    d.finish("a1", .detect, .notRun(kind: kind, message: "no"))
    #expect(d.hostPhase("a1") == .failed && d.phase == .halted)
}

@Test func aLostConnectionAfterSomethingWasSentIsNeverDeferred() {
    var d = startedWave()
    d.finish("a1", .detect, F.ok(F.old))
    d.finish("a1", .install, F.notRun)  // install not sent: the host was reached before
    #expect(d.hostPhase("a1") == .failed)
    var e = startedWave()
    e.finish("a1", .detect, F.ok(F.old))
    e.finish("a1", .install, F.lost)
    e.finish("a1", .detect, F.notRun)  // reconciling an unknown install: not a first contact
    #expect(e.hostPhase("a1") == .unknown)
}

@Test func aWaveCompletesWithDeferredHostsAndTheRolloutCatchesUpThenSucceeds() {
    var d = startedWave(3, waves: [F.wave("a", 3), F.wave("b", 2)])
    d.finish("a1", .detect, F.notRun)
    d.succeed("a2")
    d.succeed("a3")
    // Wave 1 is done although a1 is deferred; wave 2 runs.
    #expect(d.wavePhase(0) == .done && d.sm.rollout.currentWave == 1)
    #expect(d.inFlight == ["b1", "b2"])
    d.succeed("b1")
    let last = d.finish("b2", .detect, F.ok(F.target))
    #expect(d.phase == .catchingUp)
    #expect(last.notices.contains(.catchingUp(deferred: 1)))
    // Before its retry time nothing happens.
    #expect(d.send(.timerElapsed).steps.isEmpty)
    d.now = d.run("a1").nextAttemptAt!
    #expect(d.send(.timerElapsed).steps == ["a1:detect"])
    #expect(d.hostPhase("a1") == .running)
    d.succeed("a1")
    #expect(d.phase == .succeeded)
}

@Test func aDeferredHostIsTriedEveryRetryUntilItsDeadlineThenUnreachedAndTheRolloutIncomplete() {
    var d = startedWave(2, retry: 60, deadline: 200)
    let first = d.run("a1").firstAttemptAt ?? 0
    d.finish("a1", .detect, F.notRun)
    d.succeed("a2")
    #expect(d.phase == .catchingUp)
    var attempts = 1
    while d.hostPhase("a1") == .deferred {
        guard let t = d.sm.nextTimer else {
            Issue.record("no timer with a deferred host")
            return
        }
        d.now = t - 1
        let steps = d.send(.timerElapsed).steps
        if steps == ["a1:detect"] {
            attempts += 1
            d.finish("a1", .detect, F.notRun)
        }
        if attempts > 10 { break }
    }
    #expect(d.hostPhase("a1") == .unreached)
    #expect(attempts == 4)  // at 0, 60, 120, 180 s; the deadline is 200 s after the first
    #expect(d.now >= first + 200_000)
    #expect(d.phase == .incomplete && d.phase.isFinal)
    #expect(d.sm.rollout.reason?.contains("a1") == true)
    #expect(d.log.notices.contains(.incomplete(unreached: ["a1"], count: 1)))
    #expect(d.sm.nextTimer == nil)
}

@Test func moreUnreachedHostsThanMaxUnreachedHaltTheRollout() {
    var d = startedWave(12, maxUnreached: .percent(50))
    for i in 1...6 { d.finish("a\(i)", .detect, F.notRun) }
    #expect(d.phase == .running)  // 6 of 12 is not more than 50%
    d.finish("a7", .detect, F.notRun)
    #expect(d.phase == .halted && d.wavePhase(0) == .halted)
    #expect(d.sm.rollout.reason?.contains("network or site down?") == true)
    // Halted: deferred hosts are not retried, and no timer other than the deadline is asked for.
    d.now += 3_600_000 / 2
    #expect(d.send(.timerElapsed).steps.isEmpty)
    // The operator resumes: due hosts are tried again.
    let resumed = d.send(.resume(by: "bob"))
    #expect(resumed.steps.count == 7)
}

@Test func anOperatorRetriesDeferredAndUnreachedHostsAtOnceWithANewDeadline() {
    var d = startedWave(3, retry: 600, deadline: 60)
    d.finish("a1", .detect, F.notRun)
    #expect(d.send(.retry(host: "a1", by: "bob")).steps == ["a1:detect"])
    #expect(d.run("a1").firstAttemptAt == d.now)
    d.finish("a1", .detect, F.notRun)
    d.now += 61_000
    d.send(.timerElapsed)
    #expect(d.hostPhase("a1") == .unreached)
    #expect(d.send(.retry(host: "a1", by: "bob")).steps == ["a1:detect"])
    d.succeed("a1")
    d.succeed("a2")
    d.succeed("a3")
    #expect(d.phase == .succeeded)
    // Once the rollout is over, the answer says what to do instead.
    #expect(d.refuse(.retry(host: "a1", by: "bob")) == "conflict")
}

@Test func skippingADeferredHostLetsTheRolloutSucceed() {
    var d = startedWave(2)
    d.finish("a1", .detect, F.notRun)
    d.succeed("a2")
    #expect(d.phase == .catchingUp)
    d.send(.skip(host: "a1", by: "bob"))
    #expect(d.phase == .succeeded)
}

@Test func deferredHostsAreRetriedOnlyWhileTheWindowIsOpen() {
    var d = RolloutDriver(
        F.plan([F.wave("a", 2, .window)]), F.recipe(window: "evening", retryUnreached: 60), windowOpen: true)
    d.send(.start)
    d.finish("a1", .detect, F.notRun)
    d.send(.windowChanged(open: false, by: "itvd"))
    d.succeed("a2")
    #expect(d.phase == .catchingUp)
    d.now += 120_000
    #expect(d.send(.timerElapsed).steps.isEmpty)
    #expect(d.sm.nextTimer == d.run("a1").firstAttemptAt! + 7 * 86_400_000)  // only the deadline
    #expect(d.send(.windowChanged(open: true, by: "itvd")).steps == ["a1:detect"])
}

@Test func abortAndRollbackSkipDeferredHosts() {
    var d = startedWave(2)
    d.finish("a1", .detect, F.notRun)
    d.send(.abort(by: "bob", reason: "no"))
    #expect(d.hostPhase("a1") == .skipped && d.sm.nextTimer == nil)
}

@Test func wakeOnLANHostsAreWokenLeadBeforeTheirFirstRunAndBeforeEachRetry() {
    var d = RolloutDriver(
        F.plan([F.wave("a", 2)]), F.recipe(retryUnreached: 600), wakeLeads: ["a1": 300])
    let started = d.send(.start)
    // a2 (no MAC) starts at once; a1 is woken and waits for its lead.
    #expect(started.steps == ["a2:detect"])
    #expect(wakes(started) == ["a1"])
    #expect(d.run("a1").nextAttemptAt == d.now + 300_000 && d.run("a1").wakes == 1)
    #expect(timers(started) == [d.now + 300_000])
    d.now += 299_000
    #expect(d.send(.timerElapsed).steps.isEmpty)
    d.now += 1_000
    let run = d.send(.timerElapsed)
    #expect(run.steps == ["a1:detect"] && wakes(run).isEmpty)
    // Not reached: retried in 600 s, woken 300 s before.
    let deferred = d.finish("a1", .detect, F.notRun)
    let retryAt = d.run("a1").nextAttemptAt!
    #expect(timers(deferred) == [retryAt - 300_000])
    d.now = retryAt - 300_000
    let woken = d.send(.timerElapsed)
    #expect(wakes(woken) == ["a1"] && woken.steps.isEmpty && d.run("a1").wakes == 2)
    d.now = retryAt
    #expect(d.send(.timerElapsed).steps == ["a1:detect"])
    d.succeed("a1", found: F.old)
    #expect(d.log.filter { if case .wake = $0 { true } else { false } }.count == 2)
}

@Test func recoveryArmsTheTimerAgainFromTheRecords() {
    var d = startedWave(2)
    d.finish("a1", .detect, F.notRun)
    var restarted = RolloutDriver(F.plan([F.wave("a", 2)]))
    restarted.sm = RolloutStateMachine(snapshot: d.snapshot)
    restarted.now = d.now
    let actions = restarted.send(.recover)
    #expect(timers(actions) == [d.run("a1").nextAttemptAt!])
}

@Test func eightHundredHostsWithFifteenPercentSwitchedOffPassEveryWaveAndCatchUp() {
    let waves = [F.wave("c", 8), F.wave("p", 80), F.wave("b", 712)]
    var d = RolloutDriver(F.plan(waves), F.recipe(maxFailures: .count(0), retryUnreached: 900))
    d.send(.start)
    var rng = RolloutRandom(seed: 13)
    var off = Set<String>()
    for w in waves { for h in w.hosts where rng.chance(15) { off.insert(h) } }
    var steps = 0
    while !d.inFlight.isEmpty {
        for host in d.inFlight {
            steps += 1
            let run = d.run(host)
            switch run.step {
            case .detect: d.finish(host, .detect, off.contains(host) ? F.notRun : F.ok(run.changed ? F.target : F.old))
            case .install: d.finish(host, .install, F.ok())
            default: d.finish(host, .verify, F.ok())
            }
        }
    }
    #expect(d.phase == .catchingUp)
    #expect(d.snapshot.hostRuns.filter { $0.phase == .deferred }.count == off.count)
    #expect(off.count > 80 && off.count < 160)
    // They are switched on again: their next retries catch them all up.
    var timersFired = 0
    while d.phase == .catchingUp, let next = d.sm.nextTimer, timersFired < 1_000 {
        timersFired += 1
        d.now = next - 1
        d.send(.timerElapsed)
        while !d.inFlight.isEmpty {
            for host in d.inFlight {
                let run = d.run(host)
                switch run.step {
                case .detect: d.finish(host, .detect, F.ok(run.changed ? F.target : F.old))
                case .install: d.finish(host, .install, F.ok())
                default: d.finish(host, .verify, F.ok())
                }
            }
        }
    }
    #expect(d.phase == .succeeded)
    #expect(d.snapshot.hostRuns.allSatisfy { $0.phase == .succeeded })
}
