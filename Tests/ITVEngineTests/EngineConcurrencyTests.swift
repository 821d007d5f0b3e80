import ITVCore
import Testing

@testable import ITVEngine

/// Every mutating entry point of the engine, called N times at once with the same arguments (two operators,
/// an operator and auto_plan, a script run twice): the engine is an actor, but an actor is not a lock across
/// `await`, so each entry point must decide before its first suspension. "At most one" holds (one succeeds,
/// the others get `conflict`), and each command reaches each host once.
@Suite struct EngineConcurrencyTests {
    static let n = 20

    /// An engine on fakes whose store takes a millisecond per call, as a disk would.
    static func harness(
        _ set: LoadedSet, _ fleet: FakeFleet, store: MemoryStore = MemoryStore(),
        clock: any EngineClock = InstantClock()
    ) async throws -> EngineHarness {
        await store.setLatency(.milliseconds(1))
        return try await EngineHarness(set: set, fleet: fleet, store: store, clock: clock)
    }

    /// Runs `body` `n` times at once; the outcome of each call: "ok" or the engine's error kind.
    static func together(_ n: Int = n, _ body: @escaping @Sendable (Int) async throws -> Void) async -> [String] {
        await withTaskGroup(of: String.self) { group in
            for i in 0..<n {
                group.addTask {
                    do {
                        try await body(i)
                        return "ok"
                    } catch let e as EngineError {
                        return e.kind.rawValue
                    } catch {
                        return "other: \(error)"
                    }
                }
            }
            var outcomes: [String] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes.sorted()
        }
    }

    /// `together` while the store holds commits: calls that get as far as a commit wait there (the engine's
    /// writer queues them), so once every call returned or waits to commit, the commits are let through and
    /// the outcomes are what they are.
    static func togetherWhileCommitsAreHeld(
        _ store: MemoryStore, _ engine: RolloutEngine, _ body: @escaping @Sendable (Int) async throws -> Void
    ) async -> [String] {
        let done = Done()
        let calls = Task {
            let outcomes = await together(n, body)
            await done.set()
            return outcomes
        }
        let deadline = ContinuousClock.now + .seconds(5)
        // The first caller's commit is held already: a second one means a call got past its check.
        while ContinuousClock.now < deadline, await store.heldCommitCount < 2, await engine.pendingBatches.count < n,
            !(await done.value)
        {
            try? await Task.sleep(for: .milliseconds(10))
        }
        await store.holdCommits(false)
        return await calls.value
    }

    static func counts(_ outcomes: [String]) -> [String: Int] { outcomes.reduce(into: [:]) { $0[$1, default: 0] += 1 } }

    /// One auto wave of every host, no window: a rollout runs to its end by itself.
    static func autoSet(hosts: Int = 4, operatorWave: Bool = false) -> LoadedSet {
        var waves = [WaveSpec(name: "all", size: .rest, approval: .auto, parallel: 2)]
        if operatorWave {
            waves = [
                WaveSpec(name: "first", size: .count(1), approval: .operator),
                WaveSpec(name: "rest", size: .rest, approval: .auto, parallel: 2),
            ]
        }
        return makeSet(hosts: hosts, waves: waves, window: nil)
    }

    /// Rollout 2.0 of app, approved by alice and succeeded, with nothing active any more: its id.
    static func succeededRollout(_ h: EngineHarness) async throws -> Int64 {
        let id = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        let s = try await h.wait(id) { $0.phase == .waitingApproval }
        _ = try await h.engine.approve(id, planHash: s.rollout.planHash, comment: nil, by: alice)
        _ = try await h.wait(id) { $0.phase == .succeeded }
        try await until { await h.engine.activeSnapshots().isEmpty }
        return id
    }

    static func fleet(_ hosts: Int = 4, version: String? = "1.0") -> FakeFleet {
        FakeFleet(hosts: Dictionary(uniqueKeysWithValues: (1...hosts).map { (String(format: "h%02d", $0), version) }))
    }

    /// How often each host ran a command starting with `prefix`.
    static func sent(_ fleet: FakeFleet, _ prefix: String) async -> [String: Int] {
        var counts: [String: Int] = [:]
        for (host, command) in await fleet.log where command.hasPrefix(prefix) { counts[host, default: 0] += 1 }
        return counts
    }

    static func activeRollouts(_ store: MemoryStore, procedure: String = "app") async -> [Int64] {
        await store.activeRollouts().filter { $0.rollout.procedure == procedure }.map(\.rollout.id)
    }

    // MARK: - start

    @Test func concurrentStartsOfOneProcedureCreateExactlyOneRollout() async throws {
        let fleet = Self.fleet()
        let h = try await Self.harness(Self.autoSet(operatorWave: true), fleet)
        let engine = h.engine
        let outcomes = await Self.together { i in
            _ = try await engine.createRollout(
                procedure: "app", version: i % 2 == 0 ? "2.0" : "3.0", by: i % 2 == 0 ? alice : bob)
        }
        #expect(Self.counts(outcomes) == ["ok": 1, "conflict": Self.n - 1], "\(outcomes)")
        #expect(await Self.activeRollouts(h.store).count == 1)
        #expect(await engine.activeSnapshots().count == 1)
        let id = try #require(await Self.activeRollouts(h.store).first)
        let s = try await h.wait(id) { $0.phase == .waitingApproval }
        #expect(await fleet.log.isEmpty, "the first wave waits for an operator")
        _ = try await engine.approve(id, planHash: s.rollout.planHash, comment: nil, by: alice)
        _ = try await h.wait(id) { $0.phase.isFinal }
        #expect(await Self.sent(fleet, "install") == ["h01": 1, "h02": 1, "h03": 1, "h04": 1])
        let audit = await h.store.auditLog.filter { $0.action == "rollout.start" }.map(\.outcome)
        #expect(Self.counts(audit) == ["ok": 1, "error: conflict": Self.n - 1], "every refusal is audited")
    }

    /// Commits held: the first start has its machine but nothing is durable yet. Others must still see it.
    @Test func aStartIsSeenByTheNextOneBeforeItsCommitIsDurable() async throws {
        let fleet = Self.fleet()
        let h = try await Self.harness(Self.autoSet(operatorWave: true), fleet)
        let engine = h.engine
        await h.store.holdCommits(true)
        let first = Task { try await engine.createRollout(procedure: "app", version: "2.0", by: alice) }
        try await until { await h.store.heldCommitCount == 1 }
        let outcomes = await Self.togetherWhileCommitsAreHeld(h.store, engine) { _ in
            _ = try await engine.createRollout(procedure: "app", version: "2.0", by: bob)
        }
        #expect(outcomes == Array(repeating: "conflict", count: Self.n))
        _ = try await first.value
        #expect(await Self.activeRollouts(h.store).count == 1)
    }

    // MARK: - rollback

    @Test func concurrentRollbacksOfAnEndedRolloutRunRollbackOncePerHost() async throws {
        let fleet = Self.fleet()
        let h = try await Self.harness(Self.autoSet(), fleet)
        let engine = h.engine
        let id = try await engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        _ = try await h.wait(id) { $0.phase == .succeeded }
        try await until { await engine.activeSnapshots().isEmpty }  // ended and forgotten
        let outcomes = await Self.together { i in
            _ = try await engine.rollback(id, by: i % 2 == 0 ? alice : bob, reason: "bad release")
        }
        #expect(Self.counts(outcomes) == ["ok": 1, "conflict": Self.n - 1], "\(outcomes)")
        let s = try await h.wait(id) { $0.phase.isFinal }
        #expect(s.phase == .rolledBack)
        #expect(await Self.sent(fleet, "rollback") == ["h01": 1, "h02": 1, "h03": 1, "h04": 1])
        for host in ["h01", "h02", "h03", "h04"] { #expect(await fleet.state(host)?.version == "1.0") }
    }

    /// Commits held: the first rollback is decided but not durable; the others still see it.
    @Test func concurrentRollbacksWhileTheFirstIsBeingCommitted() async throws {
        let fleet = Self.fleet()
        let h = try await Self.harness(Self.autoSet(), fleet)
        let engine = h.engine
        let id = try await engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        _ = try await h.wait(id) { $0.phase == .succeeded }
        try await until { await engine.activeSnapshots().isEmpty }
        await h.store.holdCommits(true)
        let first = Task { try await engine.rollback(id, by: alice, reason: "first") }
        try await until { await h.store.heldCommitCount == 1 }
        let outcomes = await Self.togetherWhileCommitsAreHeld(h.store, engine) { _ in
            _ = try await engine.rollback(id, by: bob, reason: "again")
        }
        _ = try await first.value
        #expect(outcomes == Array(repeating: "conflict", count: Self.n))
        _ = try await h.wait(id) { $0.phase.isFinal }
        #expect(await Self.sent(fleet, "rollback") == ["h01": 1, "h02": 1, "h03": 1, "h04": 1])
    }

    @Test func aRollbackOfAnEndedRolloutIsRefusedWhileANewerRolloutOfTheProcedureIsActive() async throws {
        let fleet = Self.fleet()
        let h = try await Self.harness(Self.autoSet(operatorWave: true), fleet)
        let engine = h.engine
        let old = try await Self.succeededRollout(h)
        let new = try await engine.createRollout(procedure: "app", version: "3.0", by: bob).rollout.id
        _ = try await h.wait(new) { $0.phase == .waitingApproval }
        do {
            _ = try await engine.rollback(old, by: alice, reason: "undo 2.0")
            Issue.record("the rollback of rollout \(old) was accepted while rollout \(new) is active")
        } catch let e as EngineError {
            #expect(e.kind == .conflict)
            #expect(e.message.contains("rollout \(new)"), "names the active rollout: \(e.message)")
        }
        #expect(await Self.sent(fleet, "rollback").isEmpty)
        #expect(try await engine.snapshot(old).phase == .succeeded)
        #expect(await engine.activeSnapshots().map(\.rollout.id) == [new])
        let refused = await h.store.auditLog.last
        #expect(refused?.action == "rollout.rollback" && refused?.outcome == "error: conflict")
        // Once the newer one ended, the old one may be rolled back (an operator's decision).
        _ = try await engine.abort(new, by: bob, reason: nil)
        _ = try await h.wait(new) { $0.phase.isFinal }
        _ = try await engine.rollback(old, by: alice, reason: "undo 2.0")
        #expect(try await h.wait(old) { $0.phase.isFinal }.phase == .rolledBack)
    }

    @Test func aStartAndARollbackOfTheSameProcedureAtOnceLetOnlyOneThrough() async throws {
        let fleet = Self.fleet()
        let h = try await Self.harness(Self.autoSet(operatorWave: true), fleet)
        let engine = h.engine
        let old = try await Self.succeededRollout(h)
        let outcomes = await Self.together { i in
            if i % 2 == 0 {
                _ = try await engine.rollback(old, by: alice, reason: nil)
            } else {
                _ = try await engine.createRollout(procedure: "app", version: "3.0", by: bob)
            }
        }
        #expect(Self.counts(outcomes) == ["ok": 1, "conflict": Self.n - 1], "\(outcomes)")
        #expect(await Self.activeRollouts(h.store).count == 1)
    }

    // MARK: - operator controls on an active rollout

    /// A rollout whose first wave (h01) waits for an operator.
    static func waiting(_ fleet: FakeFleet, approvals: Int = 1) async throws -> (EngineHarness, Int64, String) {
        let set = makeSet(
            hosts: 4,
            waves: [
                WaveSpec(name: "first", size: .count(2), approval: .operator, approvals: approvals),
                WaveSpec(name: "rest", size: .rest, approval: .auto),
            ], window: nil)
        let h = try await Self.harness(set, fleet)
        let id = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        let s = try await h.wait(id) { $0.phase == .waitingApproval }
        return (h, id, s.rollout.planHash)
    }

    @Test func concurrentApprovalsBySameOperatorCountOnce() async throws {
        let fleet = Self.fleet()
        let (h, id, hash) = try await Self.waiting(fleet, approvals: 2)
        let engine = h.engine
        let outcomes = await Self.together { _ in
            _ = try await engine.approve(id, planHash: hash, comment: nil, by: alice)
        }
        #expect(Self.counts(outcomes) == ["ok": 1, "already_approved": Self.n - 1], "\(outcomes)")
        let s = try await engine.snapshot(id)
        #expect(s.phase == .waitingApproval)
        #expect(s.approvals.filter { $0.source == .operator }.count == 1)
        #expect(await fleet.log.isEmpty)
    }

    @Test func concurrentApprovalsOfTwoOperatorsStartTheWaveOnce() async throws {
        let fleet = Self.fleet()
        let (h, id, hash) = try await Self.waiting(fleet, approvals: 2)
        let engine = h.engine
        let users = [alice, bob, Requester(user: "carol", uid: 1003)]
        let outcomes = await Self.together { i in
            _ = try await engine.approve(id, planHash: hash, comment: nil, by: users[i % users.count])
        }
        // Two approvals complete the wave; a third operator finds it running.
        #expect(outcomes.filter { $0 == "ok" }.count == 2, "\(outcomes)")
        #expect(outcomes.allSatisfy { ["ok", "already_approved", "conflict"].contains($0) }, "\(outcomes)")
        _ = try await h.wait(id) { $0.phase.isFinal }
        #expect(await Self.sent(fleet, "install") == ["h01": 1, "h02": 1, "h03": 1, "h04": 1])
        #expect(await h.store.approvals.filter { $0.source == .operator }.count == 2)
    }

    @Test func concurrentPausesResumesAndAbortsEachSucceedOnce() async throws {
        let fleet = Self.fleet()
        let (h, id, _) = try await Self.waiting(fleet)
        let engine = h.engine
        var outcomes = await Self.together { _ in _ = try await engine.pause(id, by: alice, reason: nil) }
        #expect(Self.counts(outcomes) == ["ok": 1, "conflict": Self.n - 1], "pause: \(outcomes)")
        outcomes = await Self.together { _ in _ = try await engine.resume(id, by: alice, reason: nil) }
        #expect(Self.counts(outcomes) == ["ok": 1, "conflict": Self.n - 1], "resume: \(outcomes)")
        #expect(try await engine.snapshot(id).phase == .waitingApproval)
        outcomes = await Self.together { _ in _ = try await engine.abort(id, by: bob, reason: nil) }
        #expect(
            outcomes.filter { $0 == "ok" }.count == 1
                && outcomes.allSatisfy { $0 == "ok" || $0 == "conflict" || $0 == "not_found" }, "abort: \(outcomes)")
        #expect(try await h.wait(id) { $0.phase.isFinal }.phase == .aborted)
        let audit = await h.store.auditLog.filter { $0.outcome == "ok" }.map(\.action)
        #expect(audit == ["rollout.start", "rollout.pause", "rollout.resume", "rollout.abort"])
        #expect(await fleet.log.isEmpty)
    }

    /// The late ones of N aborts find the rollout ended: `conflict` ("it is aborted"), audited, not `not_found`.
    @Test func aRequestForAnEndedRolloutIsAConflictAndForAnUnknownOneNotFound() async throws {
        let fleet = Self.fleet()
        let (h, id, hash) = try await Self.waiting(fleet)
        let engine = h.engine
        _ = try await engine.abort(id, by: alice, reason: "no")
        try await until { await engine.activeSnapshots().isEmpty }
        let calls: [(String, @Sendable () async throws -> Void)] = [
            ("approve", { _ = try await engine.approve(id, planHash: hash, comment: nil, by: bob) }),
            ("pause", { _ = try await engine.pause(id, by: bob, reason: nil) }),
            ("resume", { _ = try await engine.resume(id, by: bob, reason: nil) }),
            ("abort", { _ = try await engine.abort(id, by: bob, reason: nil) }),
            ("retry", { _ = try await engine.retry(id, host: "h01", by: bob) }),
            ("skip", { _ = try await engine.skip(id, host: "h01", by: bob) }),
        ]
        for (verb, call) in calls {
            do {
                try await call()
                Issue.record("\(verb) of an aborted rollout was accepted")
            } catch let e as EngineError {
                #expect(e.kind == .conflict && e.message.contains("it is aborted"), "\(verb): \(e)")
            }
        }
        let refused = await h.store.auditLog.filter { $0.user == "bob" }.map(\.outcome)
        #expect(refused == Array(repeating: "error: conflict", count: calls.count))
        await #expect(throws: EngineError(.notFound, "no rollout 99 (itvctl rollout list --all lists every rollout)")) {
            _ = try await engine.pause(99, by: bob, reason: nil)
        }
        #expect(await fleet.log.isEmpty)
    }

    /// A failed host (install exits 1) halts the wave; N retries at once run it again once; N skips settle
    /// another failed host once.
    @Test func concurrentRetriesAndSkipsOfAHostEachTakeEffectOnce() async throws {
        let fleet = Self.fleet()
        await fleet.set("h01") { $0.failInstall = true }
        await fleet.set("h02") { $0.failInstall = true }
        let set = makeSet(
            hosts: 4, waves: [WaveSpec(name: "all", size: .rest, approval: .auto, parallel: 4)],
            maxFailures: .count(0), window: nil)
        let h = try await Self.harness(set, fleet)
        let engine = h.engine
        let id = try await engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        _ = try await h.wait(id) { $0.phase == .halted }
        await fleet.set("h01") { $0.failInstall = false }
        let installsBefore = await Self.sent(fleet, "install")["h01"] ?? 0
        var outcomes = await Self.together { _ in
            _ = try await engine.retry(id, host: "h01", by: alice, comment: "fixed the repo")
        }
        #expect(Self.counts(outcomes) == ["ok": 1, "conflict": Self.n - 1], "retry: \(outcomes)")
        outcomes = await Self.together { _ in _ = try await engine.skip(id, host: "h02", by: bob, comment: nil) }
        #expect(Self.counts(outcomes) == ["ok": 1, "conflict": Self.n - 1], "skip: \(outcomes)")
        _ = try await engine.resume(id, by: alice, reason: nil)
        let s = try await h.wait(id) { $0.phase.isFinal }
        #expect(s.run("h01")?.phase == .succeeded && s.run("h02")?.phase == .skipped, "\(s.hostRuns)")
        #expect((await Self.sent(fleet, "install")["h01"] ?? 0) == installsBefore + 1)
        let retried = await h.store.auditLog.filter { $0.action == "rollout.retry" && $0.outcome == "ok" }
        #expect(retried.map(\.comment) == ["fixed the repo"])
    }

    // MARK: - windows and reload

    /// A rollout of one window wave (`parallel` hosts at a time) of the window "evening", which is closed: the
    /// harness and the rollout's id.
    static func waitingForWindow(_ fleet: FakeFleet, parallel: Int) async throws -> (EngineHarness, Int64) {
        let set = makeSet(
            hosts: 4, waves: [WaveSpec(name: "night", size: .rest, approval: .window, parallel: parallel)],
            window: "evening")
        let h = try await Self.harness(set, fleet)
        let id = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        _ = try await h.wait(id) { $0.phase == .waitingApproval }
        return (h, id)
    }

    @Test func concurrentWindowOpensStartTheWindowWaveOnce() async throws {
        let fleet = Self.fleet()
        let (h, id) = try await Self.waitingForWindow(fleet, parallel: 2)
        let engine = h.engine
        let outcomes = await Self.together { i in
            _ = try await engine.openWindow(
                "evening", duration: nil, by: i % 2 == 0 ? alice : bob, comment: "patch night")
        }
        #expect(outcomes == Array(repeating: "ok", count: Self.n))
        let s = try await h.wait(id) { $0.phase.isFinal }
        #expect(s.phase == .succeeded)
        #expect(await Self.sent(fleet, "install") == ["h01": 1, "h02": 1, "h03": 1, "h04": 1])
        #expect(s.approvals.filter { $0.source == .window }.count == 1, "\(s.approvals)")
        let opened = await h.store.auditLog.filter { $0.action == "window.open" }
        #expect(opened.count == Self.n && opened.allSatisfy { $0.comment?.contains("patch night") == true })
    }

    /// Opens and closes at once: whatever order they commit in, every rollout ends up with the window's
    /// real state, and nothing is dispatched after the last close.
    @Test func concurrentWindowOpensAndClosesLeaveRolloutsWithTheWindowsState() async throws {
        let fleet = Self.fleet()
        let (h, id) = try await Self.waitingForWindow(fleet, parallel: 1)
        let engine = h.engine
        await fleet.hold(true)
        let outcomes = await Self.together { i in
            if i % 2 == 0 {
                _ = try await engine.openWindow("evening", duration: nil, by: alice, comment: nil)
            } else {
                _ = try await engine.closeWindow("evening", by: bob, comment: "done")
            }
        }
        #expect(outcomes == Array(repeating: "ok", count: Self.n))
        _ = try await engine.closeWindow("evening", by: bob, comment: nil)
        #expect(await engine.machines[id]?.windowOpen == false)
        await fleet.releaseInstalls()
        try await until { await engine.machines[id]?.snapshot.hostRuns.allSatisfy { $0.phase != .running } ?? true }
        let installs = await Self.sent(fleet, "install")
        #expect(installs.values.allSatisfy { $0 == 1 } && installs.count <= 1, "parallel 1: \(installs)")
        let closed = await h.store.auditLog.filter { $0.action == "window.close" }
        #expect(closed.filter { $0.comment == "done" }.count == Self.n / 2)
    }

    @Test func concurrentReloadsKeepOneDispatchPerHost() async throws {
        let fleet = Self.fleet()
        let set = Self.autoSet(operatorWave: true)
        let h = try await Self.harness(set, fleet)
        let engine = h.engine
        let id = try await engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        let s = try await h.wait(id) { $0.phase == .waitingApproval }
        _ = try await engine.approve(id, planHash: s.rollout.planHash, comment: nil, by: alice)
        let outcomes = await Self.together { _ in await engine.reload(set) }
        #expect(outcomes == Array(repeating: "ok", count: Self.n))
        #expect(try await h.wait(id) { $0.phase.isFinal }.phase == .succeeded)
        #expect(await Self.sent(fleet, "install") == ["h01": 1, "h02": 1, "h03": 1, "h04": 1])
    }

    // MARK: - a stop while a step waits

    /// Rollout B's first step waits for the host that rollout A holds. The daemon begins to stop; then A's
    /// host run ends and hands the host to B: B's step, not sent before the stop began, is never sent.
    @Test func aStepThatWaitedForItsHostWhenTheStopBeganIsNotSent() async throws {
        var set = makeSet(hosts: 1, waves: [WaveSpec(name: "all", size: .rest, approval: .auto)], window: nil)
        var other = set.playbooks[0]
        other.id = "other"
        set.playbooks.append(other)
        let fleet = FakeFleet(hosts: ["h01": "1.0"])
        // The stop waits for the steps in flight, not for a time: on a clock that stands still, it returns only
        // because they ended.
        let h = try await Self.harness(set, fleet, clock: ManualClock())
        let engine = h.engine
        await fleet.hold(true, command: "verify")
        let a = try await engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        try await until { await fleet.heldCount == 1 }
        let b = try await engine.createRollout(procedure: "other", version: "2.0", by: alice).rollout.id
        try await until { await engine.machines[b]?.hostRun("h01")?.stepInFlight == true }
        #expect(await engine.hostOwners["h01"] == a)
        let stop = Task { await engine.stop(timeout: 10) }
        try await until { await engine.stopping }
        await fleet.releaseInstalls()
        await stop.value
        let commands = await fleet.log.map(\.command)
        #expect(commands.filter { $0 == "detect" }.count == 1, "only rollout \(a)'s detect was sent: \(commands)")
        // The intent is forgotten (committed as not sent): after a restart, B starts the host over.
        try await until { await h.store.hostRuns[b]?["h01"]?.stepInFlight == false }
        #expect(await h.store.hostRuns[b]?["h01"]?.phase == .pending)
        let commits = await h.store.commits
        try await Task.sleep(for: .milliseconds(200))
        #expect(await h.store.commits == commits, "no loop of not-sent steps while stopping")
    }

    /// A step that never ends holds a stop only until its timeout, counted on the engine's clock: a second
    /// early it still waits, at the timeout it returns.
    @Test func aStopGivesUpOnAHungStepAtItsTimeoutOnTheEngineClock() async throws {
        let set = makeSet(hosts: 1, waves: [WaveSpec(name: "all", size: .rest, approval: .auto)], window: nil)
        let fleet = FakeFleet(hosts: ["h01": "1.0"])
        let clock = ManualClock()
        let h = try await Self.harness(set, fleet, clock: clock)
        let engine = h.engine
        await fleet.hold(true)
        _ = try await engine.createRollout(procedure: "app", version: "2.0", by: alice)
        try await until { await fleet.heldCount == 1 }
        let stopped = Stopped()
        let stop = Task {
            await engine.stop(timeout: 60)
            await stopped.set()
        }
        try await until { clock.sleeping == 1 }  // the stop's timeout
        clock.advance(seconds: 59)
        #expect(clock.sleeping == 1, "a second early: the timeout still waits")
        #expect(await !stopped.done)
        clock.advance(seconds: 1)
        await stop.value
        #expect(await stopped.done)
        #expect(await engine.stepsInFlight == 1, "the hung step is given up, not waited for")
        await fleet.releaseInstalls()
    }

    actor Stopped {
        var done = false
        func set() { done = true }
    }

    // MARK: - the store's constraint, behind the engine's own check

    /// Two engines on one store (two daemons: the state-directory lock forbids it, but if it were lost):
    /// the second's start passes its own check, and the store refuses it as `conflict` without stopping it.
    @Test func theStoreRefusesASecondActiveRolloutAsConflictAndTheEngineStaysUp() async throws {
        let fleet = Self.fleet()
        let store = MemoryStore()
        let set = Self.autoSet(operatorWave: true)
        let first = try await Self.harness(set, fleet, store: store)
        let second = try await Self.harness(set, fleet, store: store)
        let id = try await first.engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        _ = try await first.wait(id) { $0.phase == .waitingApproval }
        let installs = await Self.sent(fleet, "install")
        do {
            _ = try await second.engine.createRollout(procedure: "app", version: "3.0", by: bob)
            Issue.record("a second active rollout of app was stored")
        } catch let e as EngineError {
            #expect(e.kind == .conflict, "\(e)")
            #expect(e.message.contains("rollout \(id)"), "\(e.message)")
        }
        #expect(await second.engine.storeFailure == nil)
        #expect(await second.engine.activeSnapshots().isEmpty)
        #expect(await Self.activeRollouts(store) == [id])
        try await Task.sleep(for: .milliseconds(100))
        #expect(await Self.sent(fleet, "install") == installs, "the refused rollout sent nothing")
        // The second engine still works.
        _ = try await second.engine.openWindow("evening", duration: nil, by: bob, comment: nil)
    }
}

actor Done {
    var value = false
    func set() { value = true }
}
