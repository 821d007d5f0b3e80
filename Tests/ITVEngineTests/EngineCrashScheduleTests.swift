import Foundation
import ITVCore
import Logging
import Testing

@testable import ITVEngine

/// Drives the real engine (fake SSH, instant clock, in-memory store) through seeded schedules with kill -9
/// injected at random commits, and checks the guarantees after each schedule.
@Suite struct EngineCrashScheduleTests {
    static let schedules = Int(ProcessInfo.processInfo.environment["ITV_SCHEDULES"] ?? "") ?? 10_000
    /// The first seed (other seeds than CI's: `ITV_SCHEDULE_FIRST=10000 ITV_SCHEDULES=50000`).
    static let first = UInt64(ProcessInfo.processInfo.environment["ITV_SCHEDULE_FIRST"] ?? "") ?? 0
    /// A watchdog, not a deadline: waiting for the engine to settle never ends early (a schedule only acts on
    /// a settled engine); an engine that has not settled after this long hangs, and the schedule fails.
    static let settleLimit: Duration = .seconds(600)

    @Test func seededSchedulesWithCrashesKeepTheGuarantees() async throws {
        let started = ContinuousClock.now
        var failures: [String] = []
        let seeds =
            ProcessInfo.processInfo.environment["ITV_SCHEDULE_SEED"].flatMap(UInt64.init).map { [$0] }
            ?? Array(Self.first..<Self.first + UInt64(Self.schedules))
        for seed in seeds {
            if let problem = try await Self.runSchedule(seed: seed) {
                failures.append("seed \(seed): \(problem)")
                if failures.count >= 5 { break }
            }
        }
        #expect(failures == [])
        print("engine crash schedules: \(Self.schedules) in \(ContinuousClock.now - started)")
    }

    /// One schedule; returns a description of the first broken guarantee, if any.
    static func runSchedule(seed: UInt64) async throws -> String? {
        var rng = SplitMix64(seed: seed)  // the engine's own generator: a failing seed replays
        let hostCount = Int.random(in: 3...6, using: &rng)
        let names = (1...hostCount).map { String(format: "h%02d", $0) }
        var versions: [String: String?] = [:]
        for n in names { versions[n] = [nil, "1.0", "1.1", "2.0"].randomElement(using: &rng) ?? nil }
        let fleet = FakeFleet(hosts: versions)
        for n in names where Int.random(in: 0..<10, using: &rng) == 0 { await fleet.set(n) { $0.failInstall = true } }
        for n in names where Int.random(in: 0..<6, using: &rng) == 0 {
            await fleet.set(n) { $0.loseNextInstallResult = true }
        }
        // Switched-off workstations: deferred, retried on timers, caught up once switched on; in some schedules
        // one never comes back and its deadline passes (the rollout ends incomplete).
        // (Time runs fast on the instant clock: a host that never comes back is the only one switched off.)
        var switchedOff = names.filter { _ in Int.random(in: 0..<5, using: &rng) == 0 }
        let neverBack = switchedOff.isEmpty || Int.random(in: 0..<4, using: &rng) > 0 ? nil : switchedOff.first
        if let neverBack { switchedOff = [neverBack] }
        for n in switchedOff { await fleet.set(n) { $0.unreachable = true } }
        // Installers that want a restart (exit 100 = reboot_required): itvd restarts the host and waits for it.
        let restarting = names.filter { _ in Int.random(in: 0..<4, using: &rng) == 0 }
        for n in restarting { await fleet.set(n) { $0.needsRestart = true } }
        let reboot = RebootSpec(
            exitCodes: [100: .rebootRequired], policy: .ifRequired, command: StepCommand(all: template("reboot")))
        let idempotent = Bool.random(using: &rng)
        let approvals: [ApprovalKind] = [.auto, .operator]
        let waves = [
            WaveSpec(name: "a", size: .count(1), approval: approvals.randomElement(using: &rng) ?? .auto),
            WaveSpec(
                name: "b", size: .count(Int.random(in: 1...2, using: &rng)),
                approval: approvals.randomElement(using: &rng) ?? .auto, approvals: Int.random(in: 1...2, using: &rng)),
            WaveSpec(name: "c", size: .rest, approval: .auto, parallel: Int.random(in: 1...3, using: &rng)),
        ].map { w -> WaveSpec in
            var w = w
            if w.approval != .operator { w.approvals = 1 }
            return w
        }
        let set = makeSet(
            hosts: hostCount, waves: waves, maxFailures: .percent(100), idempotent: idempotent, window: nil,
            retryUnreached: 900, reachDeadline: neverBack == nil ? 7 * 86_400 : 3_600, reboot: reboot)
        let store = MemoryStore()
        var logger = Logger(label: "schedule", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical

        /// Starts a daemon; a crash injected into its start-up (recovery commits) kills it and starts another.
        func startEngine() async throws -> (RolloutEngine, Task<Void, Never>) {
            while true {
                let generation = await store.generation
                let engine = RolloutEngine(
                    set: set, store: await store.handle(),
                    executor: FakeExecutor(fleet: fleet, process: (store, generation)), clock: InstantClock(),
                    logger: logger)
                let loop = Task { await engine.run() }
                do {
                    try await engine.start()
                    return (engine, loop)
                } catch {
                    loop.cancel()
                }
            }
        }

        var (engine, loop) = try await startEngine()
        defer { loop.cancel() }
        if Bool.random(using: &rng) { await store.crash(atCommit: Int.random(in: 1...8, using: &rng)) }
        var id: Int64
        do {
            id = try await engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        } catch {
            // Killed while creating: after the restart the rollout may or may not exist.
            loop.cancel()
            (engine, loop) = try await startEngine()
            guard let existing = await store.rollouts.keys.max() else { return nil }
            id = existing
        }
        var given: [ApprovalRecord] = []
        var retried: [String: Int] = [:]
        let users = [alice, bob, Requester(user: "carol", uid: 1003)]
        var approver = Int.random(in: 0..<users.count, using: &rng)

        // Each turn ends with an operator action or a restart; the budget is far above what a schedule needs.
        var turns = 0
        for _ in 0..<400 {
            turns += 1
            // Let it run until it ends, waits for a person, or the process died. Only a settled snapshot may
            // choose the operator's action: acting on a running one (e.g. retrying a host of a wave the engine
            // has already left) makes the engine do what it should, and the checker call that a broken order.
            // So no deadline ends the wait; the watchdog only turns a hung engine into a failure.
            var snapshot = try await engine.snapshot(id)
            let turnStart = ContinuousClock.now
            let watchdog = turnStart + Self.settleLimit
            // Settled: final or waiting for a person, nothing running. A turn that ends while deferred hosts
            // wait for their timers is not settled: the engine may move on at any moment (timers fire on the
            // instant clock), so such a turn only switches hosts on or injects a crash, never an operator's
            // action chosen from a snapshot the engine may already have left (on a loaded machine it often has:
            // a retry of a host whose wave is over, or of a rollout that just ended).
            var settled = false
            while true {
                if await engine.storeFailure != nil { break }
                snapshot = try await engine.snapshot(id)
                let idle = !snapshot.hostRuns.contains(where: { $0.stepInFlight || $0.phase == .running })
                if (snapshot.phase.isFinal || snapshot.phase.waitsForPerson) && idle {
                    settled = true
                    break
                }
                // Deferred hosts wait for their retry timers: a moment of real time, then a turn may switch
                // them on again.
                if idle, snapshot.hostRuns.contains(where: { $0.phase == .deferred }),
                    ContinuousClock.now > turnStart + .milliseconds(20)
                {
                    break
                }
                if ContinuousClock.now > watchdog {
                    return
                        "turn \(turns): the engine did not settle in \(Self.settleLimit) (\(snapshot.phase.rawValue))"
                }
                await Task.yield()
            }
            if await engine.storeFailure != nil {
                loop.cancel()
                (engine, loop) = try await startEngine()
                if Int.random(in: 0..<3, using: &rng) == 0 {
                    await store.crash(atCommit: Int.random(in: 1...10, using: &rng))
                }
                continue
            }
            if snapshot.phase.isFinal { break }
            if snapshot.hostRuns.contains(where: { $0.phase == .deferred }), Int.random(in: 0..<2, using: &rng) == 0 {
                // Switched on again (the deferred host is caught up at its next retry).
                for n in switchedOff where n != neverBack { await fleet.set(n) { $0.unreachable = false } }
            }
            if Int.random(in: 0..<4, using: &rng) == 0 {
                await store.crash(atCommit: Int.random(in: 1...6, using: &rng))
            }
            guard settled else { continue }
            do {
                if let unknown = snapshot.hostRuns.first(where: { $0.phase == .unknown || $0.phase == .failed }),
                    snapshot.rollout.currentWave == unknown.wave, Int.random(in: 0..<3, using: &rng) == 0,
                    !(await fleet.state(unknown.host)?.failInstall ?? false)
                {
                    retried[unknown.host, default: 0] += 1
                    _ = try await engine.retry(id, host: unknown.host, by: alice)
                } else if snapshot.phase == .waitingApproval {
                    let wave = snapshot.rollout.currentWave
                    // An operator who has not approved this wave yet (as the daemon knows it).
                    let done = Set(snapshot.approvals.filter { $0.wave == wave }.map(\.uid))
                    repeat { approver = (approver + 1) % users.count } while done.contains(users[approver].uid)
                    _ = try await engine.approve(
                        id, planHash: snapshot.rollout.planHash, comment: nil, by: users[approver])
                    given.append(
                        ApprovalRecord(
                            rolloutID: id, wave: wave, source: .operator, user: users[approver].user,
                            uid: users[approver].uid, comment: nil, planHash: snapshot.rollout.planHash, at: 0))
                } else if snapshot.phase == .halted || snapshot.phase == .paused {
                    _ = try await engine.resume(id, by: alice, reason: nil)
                }
            } catch let e as EngineError where e.kind != .unavailable {
                return "operator action refused: \(e)"
            } catch {
                // The process died during the action; the loop restarts it. An approval that was not
                // committed may be lost: that is not "given".
                if let last = given.last,
                    await !store.approvals.contains(where: { $0.uid == last.uid && $0.wave == last.wave })
                {
                    given.removeLast()
                }
            }
        }

        // The last turn may have just started work: let it settle before judging (restarting a process that
        // died meanwhile, as systemd would).
        var final = try await engine.snapshot(id)
        let watchdog = ContinuousClock.now + Self.settleLimit
        // Deferred hosts are retried by their timers unless the rollout waits for a person (no retries then).
        while !final.phase.isFinal,
            final.hostRuns.contains(where: {
                $0.stepInFlight || $0.phase == .running || ($0.phase == .deferred && !final.phase.waitsForPerson)
            })
        {
            if ContinuousClock.now > watchdog {
                return "the engine did not settle in \(Self.settleLimit) after the last turn"
            }
            if await engine.storeFailure != nil {
                loop.cancel()
                (engine, loop) = try await startEngine()
            }
            await Task.yield()
            final = try await engine.snapshot(id)
        }
        // Time runs fast on the instant clock: a switched-off host may pass its deadline while the rollout waits
        // for a person (halted or paused: no retries) before a turn switches it on again.
        let unreached = final.hostRuns.filter { $0.phase == .unreached }.map(\.host)
        let expected: RolloutPhase = neverBack == nil && unreached.isEmpty ? .succeeded : .incomplete
        for host in unreached where !switchedOff.contains(host) {
            return "\(host) was never switched off but ended unreached"
        }
        if let neverBack, final.run(neverBack)?.phase != .unreached {
            return "\(neverBack) never came back but is \(final.run(neverBack)?.phase.rawValue ?? "?")"
        }
        for run in final.hostRuns where run.deferrals > 0 {
            if await fleet.state(run.host)?.ledger.isEmpty == false, run.host == neverBack {
                return "\(run.host) was never reachable but ran commands"
            }
        }
        guard final.phase == expected else {
            let running = final.hostRuns.filter { $0.phase == .running }.map {
                "\($0.host) at \($0.step?.rawValue ?? "-"), in flight: \($0.stepInFlight)"
            }
            return
                "ended \(final.phase.rawValue) after \(turns) turns (running: \(running), store failure: "
                + "\(await engine.storeFailure ?? "none")): "
                + "\(final.hostRuns.map { "\($0.host) \($0.phase.rawValue) \($0.error ?? "")" })"
        }
        let stored = await store.approvals
        for a in given where !stored.contains(where: { $0.uid == a.uid && $0.wave == a.wave && $0.source == .operator })
        {
            return "approval by \(a.user) of wave \(a.wave + 1) was lost"
        }
        for run in final.hostRuns {
            let state = await fleet.state(run.host)
            let installs = state?.ledger.filter { $0.hasPrefix("install") }.count ?? 0
            if !idempotent, installs > 1 + (retried[run.host] ?? 0) {
                return "\(run.host): non-idempotent install sent \(installs) times (\(retried[run.host] ?? 0) retries)"
            }
            if run.phase == .deferred { return "\(run.host) still deferred in a final rollout" }
            // A restart is sent at most once per host run (an operator's retry starts a new one).
            if let reboots = state?.reboots, reboots > 1 + (retried[run.host] ?? 0) {
                return "\(run.host) restarted \(reboots) times (\(retried[run.host] ?? 0) retries)"
            }
            // (No "succeeded, so restarted" check: an install whose result a crash or a dropped connection lost is
            // settled by detect, and its exit code, so the restart, stays unknown.)
            if run.phase == .unreached, installs > 0 { return "\(run.host) unreached but was sent install" }
            if [.succeeded, .alreadyCurrent].contains(run.phase), state?.version != "2.0" {
                return "\(run.host) is \(run.phase.rawValue) but runs \(state?.version ?? "nothing")"
            }
            if run.phase == .succeeded, installs == 0 {
                return "\(run.host) marked succeeded without an install"
            }
        }
        // Wave order: no command on a host of wave k+1 before the last install/verify on wave k.
        let log = await fleet.log
        // Deferred hosts are caught up after their wave: they do not count for the order.
        let waveOf = Dictionary(
            uniqueKeysWithValues: final.hostRuns.filter { $0.deferrals == 0 }.map { ($0.host, $0.wave) })
        for k in 0..<max(0, final.waves.count - 1) {
            let lastOfK = log.lastIndex { waveOf[$0.host] == k && !$0.command.hasPrefix("detect") } ?? -1
            let firstAfter = log.firstIndex { (waveOf[$0.host] ?? -1) > k } ?? Int.max
            if lastOfK > firstAfter { return "wave \(k + 2) started before wave \(k + 1) finished" }
        }
        return nil  // every guarantee held and the rollout succeeded
    }
}
