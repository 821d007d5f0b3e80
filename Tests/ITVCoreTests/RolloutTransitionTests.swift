import Testing

@testable import ITVCore

private typealias F = RolloutFixture

/// Every rollout phase, reached by real events on one plan: wave 1 `a` = [a1, a2] (auto, parallel 1, bake 60 s),
/// wave 2 `b` = [b1] (operator). max_failures 0, on_failure halt, with a rollback step.
enum PhaseFixture: CaseIterable, CustomStringConvertible {
    case planned, waitingApproval, running, baking, halted, paused, aborted, rollingBack, succeeded, rolledBack,
        failed, catchingUp, incomplete

    var description: String { phase.rawValue }

    var phase: RolloutPhase {
        switch self {
        case .planned: .planned
        case .waitingApproval: .waitingApproval
        case .running: .running
        case .baking: .baking
        case .halted: .halted
        case .paused: .paused
        case .aborted: .aborted
        case .rollingBack: .rollingBack
        case .succeeded: .succeeded
        case .rolledBack: .rolledBack
        case .failed: .failed
        case .catchingUp: .catchingUp
        case .incomplete: .incomplete
        }
    }

    static let plan = F.plan([F.wave("a", 2, bake: 60, parallel: 1), F.wave("b", 1, .operator)])

    /// A driver in this phase. `a1` is the host the events below name.
    func make() -> RolloutDriver {
        var d = RolloutDriver(Self.plan)
        switch self {
        case .planned:
            break
        case .running:
            d.send(.start)  // a1 detect in flight, a2 pending
        case .waitingApproval:
            d = PhaseFixture.baking.make()
            d.send(.bakeElapsed(wave: 0))
        case .baking:
            d.send(.start)
            d.succeed("a1")
            d.succeed("a2")
        case .halted:
            d.send(.start)
            d.failDetect("a1")  // 1 failure > max_failures 0; a2 still pending
        case .paused:
            d.send(.start)
            d.send(.pause(by: "alice"))
        case .aborted:
            d.send(.start)
            d.send(.abort(by: "alice", reason: "wrong version"))  // a1 detect still in flight
        case .rollingBack:
            d.send(.start)
            d.succeed("a1")  // a2 detect now in flight
            d.send(.rollback(by: "alice", reason: "broken"))  // a1 rollback in flight
        case .succeeded:
            d = PhaseFixture.waitingApproval.make()
            d.approve(1)
            d.succeed("b1")
        case .rolledBack, .failed:
            d = PhaseFixture.succeeded.make()
            d.send(.rollback(by: "alice", reason: "broken"))
            d.finish("b1", .rollback, self == .failed ? F.exit(1) : F.ok())
            d.finish("a1", .rollback, F.ok())
            d.finish("a2", .rollback, F.ok())
        case .catchingUp:
            // a1 is not reached (deferred), the rest succeed: every wave done, a1 still to catch up.
            d.send(.start)
            d.finish("a1", .detect, F.notRun)
            d.succeed("a2")
            d.send(.bakeElapsed(wave: 0))
            d.approve(1)
            d.succeed("b1")
        case .incomplete:
            d = PhaseFixture.catchingUp.make()
            d.now += 8 * 86_400_000  // past reach_deadline (7 days)
            d.send(.timerElapsed)
        }
        return d
    }
}

/// The kinds of event, each with the argument the table uses.
enum EventKind: CaseIterable, CustomStringConvertible {
    case start, approve, windowOpens, detectDone, bakeElapsed, pause, resume, abort, rollback, retry, skip, recover,
        planChanged, timerElapsed

    var description: String { "\(self.event)" }

    /// `approve` approves the wave that is current (or waits); the step result names `a1`'s detect.
    func event(in d: RolloutDriver) -> RolloutInput {
        switch self {
        case .start: .start
        case .approve: .approve(F.approval(wave: d.sm.rollout.currentWave))
        case .windowOpens: .windowChanged(open: true, by: "timer")
        case .detectDone: .stepFinished(host: "a1", step: .detect, result: F.ok(F.old))
        case .bakeElapsed: .bakeElapsed(wave: 0)
        case .pause: .pause(by: "bob")
        case .resume: .resume(by: "bob")
        case .abort: .abort(by: "bob", reason: "stop")
        case .rollback: .rollback(by: "bob", reason: "bad release")
        case .retry: .retry(host: "a1", by: "bob")
        case .skip: .skip(host: "a1", by: "bob")
        case .recover: .recover
        case .planChanged: .planChanged(hash: "plan-hash-2")
        case .timerElapsed: .timerElapsed
        }
    }

    var event: RolloutInput { event(in: RolloutDriver(PhaseFixture.plan)) }
}

/// What an event does in a phase.
enum Outcome: CustomStringConvertible {
    /// Refused with this `RolloutError.kind`; nothing changed.
    case refused(String)
    /// Accepted; the snapshot is exactly what it was (runtime state or actions only).
    case same
    /// Accepted; the rollout is now in this phase.
    case becomes(RolloutPhase)

    var description: String {
        switch self {
        case .refused(let kind): "refused(\(kind))"
        case .same: "same"
        case .becomes(let phase): "becomes(\(phase.rawValue))"
        }
    }
}

/// The table: for every phase, what every kind of event does.
let transitionTable: [PhaseFixture: [EventKind: Outcome]] = [
    .planned: [
        .start: .becomes(.running), .approve: .refused("conflict"), .windowOpens: .same,
        .detectDone: .refused("conflict"), .bakeElapsed: .same, .pause: .becomes(.paused),
        .resume: .refused("conflict"), .abort: .becomes(.aborted), .rollback: .refused("conflict"),
        .retry: .refused("conflict"), .skip: .becomes(.planned), .recover: .same, .planChanged: .same,
        .timerElapsed: .same,
    ],
    .waitingApproval: [
        .start: .refused("conflict"), .approve: .becomes(.running), .windowOpens: .same,
        .detectDone: .refused("conflict"), .bakeElapsed: .same, .pause: .becomes(.paused),
        .resume: .refused("conflict"), .abort: .becomes(.aborted), .rollback: .becomes(.rollingBack),
        .retry: .refused("conflict"), .skip: .refused("conflict"), .recover: .same, .planChanged: .same,
        .timerElapsed: .same,
    ],
    .running: [
        .start: .refused("conflict"), .approve: .refused("conflict"), .windowOpens: .same,
        .detectDone: .becomes(.running), .bakeElapsed: .same, .pause: .becomes(.paused),
        .resume: .refused("conflict"), .abort: .becomes(.aborted), .rollback: .becomes(.rollingBack),
        .retry: .refused("conflict"), .skip: .refused("conflict"), .recover: .same, .planChanged: .same,
        .timerElapsed: .same,
    ],
    .baking: [
        .start: .refused("conflict"), .approve: .refused("conflict"), .windowOpens: .same,
        .detectDone: .refused("conflict"), .bakeElapsed: .becomes(.waitingApproval), .pause: .becomes(.paused),
        .resume: .refused("conflict"), .abort: .becomes(.aborted), .rollback: .becomes(.rollingBack),
        .retry: .refused("conflict"), .skip: .refused("conflict"), .recover: .same, .planChanged: .same,
        .timerElapsed: .same,
    ],
    .halted: [
        .start: .refused("conflict"), .approve: .refused("conflict"), .windowOpens: .same,
        .detectDone: .refused("conflict"), .bakeElapsed: .same, .pause: .becomes(.paused),
        .resume: .becomes(.running), .abort: .becomes(.aborted), .rollback: .becomes(.rolledBack),
        .retry: .becomes(.halted), .skip: .becomes(.halted), .recover: .same, .planChanged: .same, .timerElapsed: .same,
    ],
    .paused: [
        .start: .refused("conflict"), .approve: .refused("conflict"), .windowOpens: .same,
        .detectDone: .becomes(.paused), .bakeElapsed: .same, .pause: .refused("conflict"),
        .resume: .becomes(.running), .abort: .becomes(.aborted), .rollback: .becomes(.rollingBack),
        .retry: .refused("conflict"), .skip: .refused("conflict"), .recover: .same, .planChanged: .same,
        .timerElapsed: .same,
    ],
    .aborted: [
        .start: .refused("conflict"), .approve: .refused("conflict"), .windowOpens: .same,
        .detectDone: .becomes(.aborted), .bakeElapsed: .same, .pause: .refused("conflict"),
        .resume: .refused("conflict"), .abort: .refused("conflict"), .rollback: .becomes(.rollingBack),
        .retry: .refused("conflict"), .skip: .refused("conflict"), .recover: .same, .planChanged: .same,
        .timerElapsed: .same,
    ],
    .rollingBack: [
        .start: .refused("conflict"), .approve: .refused("conflict"), .windowOpens: .same,
        .detectDone: .refused("conflict"), .bakeElapsed: .same, .pause: .refused("conflict"),
        .resume: .refused("conflict"), .abort: .refused("conflict"), .rollback: .refused("conflict"),
        // recover: a1's rollback was in flight, so detect settles it (the snapshot records that).
        .retry: .refused("conflict"), .skip: .refused("conflict"), .recover: .becomes(.rollingBack),
        .planChanged: .same, .timerElapsed: .same,
    ],
    .succeeded: [
        .start: .refused("conflict"), .approve: .refused("conflict"), .windowOpens: .same,
        .detectDone: .refused("conflict"), .bakeElapsed: .same, .pause: .refused("conflict"),
        .resume: .refused("conflict"), .abort: .refused("conflict"), .rollback: .becomes(.rollingBack),
        .retry: .refused("conflict"), .skip: .refused("conflict"), .recover: .same, .planChanged: .same,
        .timerElapsed: .same,
    ],
    .rolledBack: [
        .start: .refused("conflict"), .approve: .refused("conflict"), .windowOpens: .same,
        .detectDone: .refused("conflict"), .bakeElapsed: .same, .pause: .refused("conflict"),
        .resume: .refused("conflict"), .abort: .refused("conflict"), .rollback: .refused("conflict"),
        .retry: .refused("conflict"), .skip: .refused("conflict"), .recover: .same, .planChanged: .same,
        .timerElapsed: .same,
    ],
    .failed: [
        .start: .refused("conflict"), .approve: .refused("conflict"), .windowOpens: .same,
        .detectDone: .refused("conflict"), .bakeElapsed: .same, .pause: .refused("conflict"),
        .resume: .refused("conflict"), .abort: .refused("conflict"),
        // Rolling a failed rollback back again would change nothing: its rollback_failed hosts are retried.
        .rollback: .refused("conflict"), .retry: .refused("conflict"), .skip: .refused("conflict"),
        .recover: .same, .planChanged: .same, .timerElapsed: .same,
    ],
    // a1 deferred; its retry is not due yet.
    .catchingUp: [
        .start: .refused("conflict"), .approve: .refused("conflict"), .windowOpens: .same,
        .detectDone: .refused("conflict"), .bakeElapsed: .same, .pause: .becomes(.paused),
        .resume: .refused("conflict"), .abort: .becomes(.aborted), .rollback: .becomes(.rollingBack),
        .retry: .becomes(.catchingUp), .skip: .becomes(.succeeded), .recover: .same, .planChanged: .same,
        .timerElapsed: .same,
    ],
    // a1 unreached. Final: only a rollback changes it.
    .incomplete: [
        .start: .refused("conflict"), .approve: .refused("conflict"), .windowOpens: .same,
        .detectDone: .refused("conflict"), .bakeElapsed: .same, .pause: .refused("conflict"),
        .resume: .refused("conflict"), .abort: .refused("conflict"), .rollback: .becomes(.rollingBack),
        .retry: .refused("conflict"), .skip: .refused("conflict"), .recover: .same, .planChanged: .same,
        .timerElapsed: .same,
    ],
]

@Test func everyPhaseFixtureIsInItsPhase() {
    for fixture in PhaseFixture.allCases {
        let d = fixture.make()
        #expect(d.phase == fixture.phase, "\(fixture)")
    }
}

@Test func tableCoversEveryPhaseAndEveryEventKind() {
    #expect(Set(transitionTable.keys.map(\.phase)) == Set(RolloutPhase.allCases))
    for fixture in PhaseFixture.allCases {
        #expect(transitionTable[fixture]?.count == EventKind.allCases.count, "\(fixture)")
    }
}

@Test(arguments: PhaseFixture.allCases)
func transitions(from fixture: PhaseFixture) {
    for kind in EventKind.allCases {
        guard let outcome = transitionTable[fixture]?[kind] else {
            Issue.record("no row for \(kind) in \(fixture)")
            continue
        }
        var d = fixture.make()
        let before = d.snapshot
        let event = kind.event(in: d)
        switch outcome {
        case .refused(let expected):
            let kindSeen = d.refuse(event)
            #expect(kindSeen == expected, "\(fixture) + \(kind)")
        case .same:
            d.send(event)
            #expect(d.snapshot == before, "\(fixture) + \(kind) changed the snapshot")
        case .becomes(let phase):
            d.send(event)
            #expect(d.phase == phase, "\(fixture) + \(kind): \(d.phase)")
            #expect(d.snapshot != before, "\(fixture) + \(kind) changed nothing")
        }
    }
}

/// The actions that come with the accepted transitions, for the rows where they are the point.
@Test func transitionActions() {
    var d = PhaseFixture.planned.make()
    #expect(d.send(.start).steps == ["a1:detect"])  // parallel 1: a2 waits

    d = PhaseFixture.running.make()
    #expect(d.send(.stepFinished(host: "a1", step: .detect, result: F.ok(F.old))).steps == ["a1:install"])
    #expect(d.run("a1").previous == F.old)

    d = PhaseFixture.running.make()
    #expect(d.send(.recover).steps == ["a1:detect"])  // a read-only step in flight is simply run again

    d = PhaseFixture.baking.make()
    #expect(d.send(.recover).contains(.scheduleBake(wave: 0, seconds: 60)))
    #expect(d.send(.bakeElapsed(wave: 1)).isEmpty)  // a stale timer for another wave does nothing
    #expect(d.phase == .baking)

    d = PhaseFixture.baking.make()
    let next = d.send(.bakeElapsed(wave: 0))
    #expect(next.notices == [.waveWaiting(wave: 1, approval: .operator)])
    #expect(d.wavePhase(0) == .done && d.wavePhase(1) == .waitingApproval)

    d = PhaseFixture.waitingApproval.make()
    #expect(d.send(.approve(F.approval(wave: 1))).steps == ["b1:detect"])

    d = PhaseFixture.halted.make()
    #expect(d.send(.resume(by: "bob")).steps == ["a2:detect"])

    d = PhaseFixture.halted.make()
    #expect(d.send(.retry(host: "a1", by: "bob")).steps.isEmpty)  // halted: nothing dispatched
    #expect(d.hostPhase("a1") == .pending)
    #expect(d.send(.resume(by: "bob")).steps == ["a1:detect"])

    d = PhaseFixture.paused.make()
    #expect(d.send(.stepFinished(host: "a1", step: .detect, result: F.ok(F.old))).steps == ["a1:install"])
    #expect(d.send(.resume(by: "bob")).steps.isEmpty)  // a1 is still running, parallel 1

    d = PhaseFixture.aborted.make()
    #expect(d.send(.stepFinished(host: "a1", step: .detect, result: F.ok(F.old))).steps.isEmpty)
    #expect(d.hostPhase("a1") == .skipped && d.hostPhase("a2") == .pending)

    d = PhaseFixture.rollingBack.make()
    #expect(d.send(.recover).steps == ["a1:detect", "a2:detect"])

    d = PhaseFixture.succeeded.make()
    #expect(d.send(.rollback(by: "bob", reason: "bad")).steps == ["b1:rollback"])  // newest wave first

    d = PhaseFixture.failed.make()
    #expect(d.run("b1").phase == .rollbackFailed)
    #expect(d.send(.retry(host: "b1", by: "bob")).steps == ["b1:rollback"])
    #expect(d.phase == .rollingBack)
    d.finish("b1", .rollback, F.ok())
    #expect(d.phase == .rolledBack)
}

@Test func eventsNamingUnknownHostsAreNotFound() {
    for fixture in PhaseFixture.allCases {
        var d = fixture.make()
        #expect(d.refuse(.stepFinished(host: "zz9", step: .detect, result: F.ok())) == "not_found", "\(fixture)")
        #expect(d.refuse(.retry(host: "zz9", by: "bob")) == "not_found", "\(fixture)")
        #expect(d.refuse(.skip(host: "zz9", by: "bob")) == "not_found", "\(fixture)")
    }
}

@Test func aStepResultForAnotherStepThanTheOneInFlightIsRefused() {
    var d = PhaseFixture.running.make()
    #expect(d.refuse(.stepFinished(host: "a1", step: .install, result: F.ok())) == "conflict")
    #expect(d.refuse(.stepFinished(host: "a2", step: .detect, result: F.ok())) == "conflict")
    d.finish("a1", .detect, F.ok(F.old))
    // The same result twice: the second finds no detect in flight.
    #expect(d.refuse(.stepFinished(host: "a1", step: .detect, result: F.ok(F.old))) == "conflict")
}

@Test func rollbackWithoutARollbackStepIsInvalid() {
    var d = RolloutDriver(PhaseFixture.plan, F.recipe(rollbackStep: false))
    d.send(.start)
    #expect(d.refuse(.rollback(by: "bob", reason: "x")) == "invalid")
}

@Test func aRolloutWithoutWavesSucceedsAtStart() {
    var d = RolloutDriver(F.plan([]))
    #expect(d.send(.start).notices == [.succeeded])
    #expect(d.phase == .succeeded)
}
