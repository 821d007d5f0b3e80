import Testing

@testable import ITVCore

private typealias F = RolloutFixture

/// A random rollout driven by a fake engine: hosts with a real installed version, steps performed in random
/// order with random results, operators doing random things, and crashes (the machine is rebuilt from its
/// snapshot, the actions not yet performed are lost, some steps were performed but their results lost).
/// Every event is followed by the invariant checks; a failure names the seed to replay.
struct RandomRollout {
    var rng: RolloutRandom
    let seed: UInt64
    var sm: RolloutStateMachine
    var now: EpochMillis = 1
    /// What each host really runs.
    var installed: [String: String?] = [:]
    /// Steps the engine was asked to run and has not run yet (one per host: the newest intent).
    var queue: [(host: String, step: HostStep)] = []
    var timers: Set<Int> = []
    /// Hosts whose `install` is due again after a `retry` exit code (scheduleRetry timers).
    var retryTimers: Set<String> = []
    /// Reboots performed on each host since the last accepted operator retry of that host.
    var reboots: [String: Int] = [:]
    /// The retry/wake/deadline timer the machine asked for last (deferred hosts).
    var retryTimer: EpochMillis?
    /// Wake-on-LAN packets sent, per host.
    var wakes: [String: Int] = [:]
    var windowOpen = false
    var planHash: String?  // the hash a new plan would have, when it differs (re-sent after a restart)
    /// Installs performed on each host since the last accepted operator retry of that host.
    var installs: [String: Int] = [:]
    var events = 0
    var trace: [String] = []

    init(seed: UInt64) {
        self.seed = seed
        var rng = RolloutRandom(seed: seed)
        let approvals: [ApprovalKind] = [.auto, .operator, .window]
        let waveCount = 1 + rng.below(4)
        let waves = (0..<waveCount).map { i in
            let prefix = String(UnicodeScalar(UInt8(97 + i)))
            return F.wave(
                prefix, rng.below(5), approvals[rng.below(3)], approvals: 1 + rng.below(2),
                bake: rng.chance(40) ? 60 : 0, parallel: [nil, 1, 2][rng.below(3)])
        }
        let threshold: FailureThreshold = rng.chance(50) ? .count(rng.below(3)) : .percent(rng.below(61))
        var recipe = F.recipe(
            idempotent: rng.chance(50), maxFailures: threshold, onFailure: rng.chance(50) ? .halt : .rollback,
            window: rng.chance(40) ? "evening" : nil, rollbackStep: rng.chance(85))
        // Every other seed has an artifact (decided by the seed, so that the draws of older seeds stay as they were).
        if seed % 2 == 0 {
            recipe.artifact = PlannedArtifact(name: "a.msi", size: 1, sha256: String(repeating: "0", count: 64))
        }
        if rng.chance(60) {
            // Exit codes and reboots: 100 needs a restart, 101 means "send again", 102 "the installer restarts".
            recipe.exitCodes = Dictionary(
                uniqueKeysWithValues: OSFamily.allCases.map {
                    ($0.rawValue, ["0": .ok, "100": .rebootRequired, "101": .retry, "102": .rebooted])
                })
            recipe.reboot = RebootPolicy.allCases[rng.below(RebootPolicy.allCases.count)]
        }
        // Some hosts have a Wake-on-LAN lead; deferred hosts are retried every 15 minutes.
        let plan = F.plan(waves)
        var leads: [String: Int64] = [:]
        for wave in plan.waves { for host in wave.hosts where rng.chance(30) { leads[host] = 300 } }
        sm = RolloutStateMachine.create(
            id: 1, plan: plan, recipe: recipe, createdBy: "alice", now: 0, wakeLeads: leads)
        let versions: [String?] = [nil, "1.0", "1.5", F.target]
        for run in sm.snapshot.hostRuns { installed[run.host] = versions[rng.below(versions.count)] }
        self.rng = rng
    }

    var recipe: RolloutRecipe { sm.rollout.recipe }
    /// Hosts whose last stage succeeded and that were not sent install since.
    var staged: Set<String> = []
    var hosts: [String] { sm.snapshot.hostRuns.map(\.host) }

    func fail(_ what: String, _ location: Testing.SourceLocation = #_sourceLocation) {
        Issue.record(
            "seed \(seed), event \(events): \(what)\nlast events:\n\(trace.suffix(30).joined(separator: "\n"))",
            sourceLocation: location)
    }

    // MARK: The engine

    /// Applies an event, checks the invariants, and takes the actions as the engine would.
    @discardableResult
    mutating func apply(_ event: RolloutInput) -> Bool {
        events += 1
        now += 1_000
        let before = sm.snapshot
        let result = sm.handle(event, now: now)
        switch result {
        case .failure(let error):
            trace.append("\(event) -> refused \(error.kind)")
            if sm.snapshot != before { fail("refused \(event) changed the snapshot") }
            if error.kind.rawValue.isEmpty || error.message.isEmpty { fail("error without kind or message") }
            return false
        case .success(let actions):
            trace.append("\(event) -> \(sm.rollout.phase.rawValue) \(actions.steps)")
            if case .retry(let host, _) = event {
                installs[host] = 0
                reboots[host] = 0
            }
            check(event, before: before, actions: actions)
            for action in actions {
                switch action {
                case .runStep(let host, let step):
                    queue.removeAll { $0.host == host }
                    queue.append((host, step))
                case .scheduleBake(let wave, _):
                    timers.insert(wave)
                case .scheduleRetry(let host, _):
                    retryTimers.insert(host)
                case .scheduleTimer(let at):
                    retryTimer = at
                case .wake(let host):
                    wakes[host, default: 0] += 1
                default:
                    break
                }
            }
            return true
        }
    }

    /// Runs a step on the fake host: what it does to the host, and what the engine learns.
    mutating func perform(_ host: String, _ step: HostStep, success: Bool = false) -> StepResult {
        let roll = success ? 99 : rng.below(100)
        let version = installed[host] ?? nil
        if roll < 4 { return F.notRun }
        switch step {
        case .detect:
            if roll < 8 { return F.lost }
            if roll < 11 { return F.exit(1) }
            if roll < 13 { return F.ok("1.2;reboot\u{1B}[0m") }
            return F.ok(version ?? "")
        case .stage:
            if recipe.artifact == nil { fail("stage sent to \(host) in a rollout without an artifact") }
            if roll < 10 { return F.lost }
            if roll < 12 { return .notRun(kind: "stage_hash_mismatch", message: "another hash") }
            staged.insert(host)
            return F.ok()
        case .install:
            if recipe.artifact != nil, !staged.contains(host) { fail("install sent to \(host) without a stage") }
            staged.remove(host)
            installs[host, default: 0] += 1
            let limit = recipe.idempotent ? RolloutStateMachine.maxInstallAttempts : 1
            if installs[host, default: 0] > limit {
                fail(
                    "install performed \(installs[host, default: 0]) times on \(host) (idempotent \(recipe.idempotent))"
                )
            }
            if roll < 12 {
                if rng.chance(50) { installed[host] = F.target }
                return F.lost
            }
            if roll < 20 { return F.exit(100) }
            if roll < 26, recipe.exitCodes != nil {
                switch roll {
                case 20, 21:
                    installs[host, default: 0] -= 1  // "another installation runs": nothing was done
                    staged.insert(host)  // the staged file stays on the host for the resend
                    return F.exit(101)
                case 22, 23:
                    installed[host] = F.target
                    return F.exit(100)
                default:
                    installed[host] = F.target
                    reboots[host, default: 0] += 1
                    return F.exit(102)
                }
            }
            installed[host] = F.target
            return F.ok()
        case .userCheck:
            if roll < 8 { return F.lost }
            // Draining: the user logs off.
            return roll < 50 || success ? F.ok("") : F.ok("alice pts/0 2026-12-05 08:00\n")
        case .reboot:
            reboots[host, default: 0] += 1
            if reboots[host, default: 0] > 1 { fail("reboot sent \(reboots[host, default: 0]) times to \(host)") }
            if roll < 10 { return F.exit(1) }
            return roll < 50 ? F.lost : F.ok()
        case .waitReboot:
            return roll < 15 ? .unknown(kind: "reboot_timeout", message: "did not come back") : F.ok()
        case .verify:
            if roll < 8 { return F.lost }
            return version == F.target && roll >= 12 ? F.ok() : F.exit(1)
        case .rollback:
            let previous = sm.hostRun(host)?.previous
            if roll < 10 {
                if rng.chance(50) { installed[host] = previous }
                return F.lost
            }
            if roll < 16 { return F.exit(2) }
            installed[host] = previous
            return F.ok()
        }
    }

    /// Performs one queued step and reports its result.
    mutating func answer(at index: Int, success: Bool = false) {
        let (host, step) = queue.remove(at: index)
        let result = perform(host, step, success: success)
        apply(.stepFinished(host: host, step: step, result: result))
    }

    /// kill -9: the actions not performed are lost; some steps ran but their results are lost.
    mutating func crash() {
        for (host, step) in queue where rng.chance(50) { _ = perform(host, step) }
        queue = []
        timers = []
        retryTimers = []
        retryTimer = nil
        trace.append("-- crash --")
        sm = RolloutStateMachine(snapshot: sm.snapshot)
        apply(.recover)
        apply(.windowChanged(open: windowOpen, by: "itvd"))
        if let hash = planHash { apply(.planChanged(hash: hash)) }
    }

    mutating func approve(wave: Int) {
        let uid = UInt32(1000 + rng.below(3))
        let hash = rng.chance(10) ? "plan-hash-0" : F.planHash
        apply(.approve(F.approval(wave: wave, uid: uid, user: "user\(uid)", hash: hash)))
    }

    /// One random thing happening.
    mutating func step() {
        let roll = rng.below(100)
        let host = hosts.isEmpty ? "nohost" : hosts[rng.below(hosts.count)]
        switch roll {
        case 0..<55 where !queue.isEmpty:
            answer(at: rng.below(queue.count))
        case 0..<55:
            apply(.start)
        case 55..<63:
            approve(wave: rng.chance(85) ? sm.rollout.currentWave : rng.below(sm.snapshot.waves.count + 1))
        case 63..<68:
            windowOpen.toggle()
            apply(.windowChanged(open: windowOpen, by: "timer"))
        case 68..<73:
            if let host = retryTimers.randomElement(using: &rng), rng.chance(50) {
                retryTimers.remove(host)
                apply(.retryDue(host: host))
            } else if let wave = timers.randomElement(using: &rng) {
                timers.remove(wave)
                apply(.bakeElapsed(wave: wave))
            }
        case 73..<76: apply(.pause(by: "bob"))
        case 76..<81: apply(.resume(by: "bob"))
        case 81: if rng.chance(40) { apply(.abort(by: "bob", reason: "stop")) }
        case 82: if rng.chance(60) { apply(.rollback(by: "bob", reason: "bad")) }
        case 83..<87: apply(.retry(host: host, by: "bob"))
        case 87..<89: apply(.skip(host: host, by: "bob"))
        case 89:
            planHash = rng.chance(50) ? "plan-hash-2" : nil
            apply(.planChanged(hash: planHash ?? F.planHash))
        case 90..<93:
            crash()
        case 96..<99:
            fireRetryTimer()
        case 93..<96:
            // A late or duplicate result for a step that is not in flight: refused, nothing changes.
            let step = HostStep.allCases[rng.below(HostStep.allCases.count)]
            if let run = sm.hostRun(host), !(run.stepInFlight && run.step == step) {
                if apply(.stepFinished(host: host, step: step, result: F.ok(F.target))) {
                    fail("a result for \(host) \(step) accepted with no such step in flight")
                }
            }
        default:
            if sm.rollout.phase == .planned { apply(.start) } else if !queue.isEmpty { answer(at: 0) }
        }
    }

    /// Answers everything with success, opens the window, approves and waits out bakes until nothing moves.
    mutating func drain() {
        for _ in 0..<2_000 {
            if !queue.isEmpty {
                answer(at: 0, success: true)
            } else if let host = retryTimers.first {
                retryTimers.remove(host)
                apply(.retryDue(host: host))
            } else if let wave = timers.first {
                timers.remove(wave)
                apply(.bakeElapsed(wave: wave))
            } else if retryTimer != nil, sm.rollout.phase != .planned {
                fireRetryTimer()
            } else if recipe.window != nil, !windowOpen {
                windowOpen = true
                apply(.windowChanged(open: true, by: "timer"))
            } else if sm.rollout.phase == .planned {
                apply(.start)
            } else if sm.rollout.phase == .waitingApproval, let wave = sm.currentWave, wave.approval == .operator,
                sm.changedPlanHash == nil
            {
                let have = Set(sm.validApprovals(wave: wave.index).map(\.uid))
                guard let uid = (UInt32(1000)...1003).first(where: { !have.contains($0) }) else { return }
                apply(.approve(F.approval(wave: wave.index, uid: uid, user: "user\(uid)")))
            } else {
                return
            }
        }
        fail("drain did not settle")
    }

    /// The time of the retry timer has come (time jumps there).
    mutating func fireRetryTimer() {
        guard let at = retryTimer else { return }
        retryTimer = nil
        now = max(now, at - 1_000)
        apply(.timerElapsed)
    }

    // MARK: Invariants

    func needsRollback(_ run: HostRunRecord) -> Bool {
        run.changed && [.succeeded, .failed, .unknown, .alreadyCurrent].contains(run.phase)
    }

    func check(_ event: RolloutInput, before: RolloutSnapshot, actions: [RolloutAction]) {
        let after = sm.snapshot
        let phaseBefore = before.rollout.phase
        let phaseAfter = after.rollout.phase
        let old = Dictionary(uniqueKeysWithValues: before.hostRuns.map { ($0.host, $0) })
        let retried: String? = if case .retry(let host, _) = event { host } else { nil }

        // Approvals are only ever added.
        if after.approvals.count < before.approvals.count
            || Array(after.approvals.prefix(before.approvals.count)) != before.approvals
        {
            fail("approvals lost or changed")
        }
        // A final rollout only changes when an operator rolls it back (or retries a failed rollback).
        if phaseBefore.isFinal, phaseAfter != phaseBefore {
            switch event {
            case .rollback, .retry: break
            default: fail("final \(phaseBefore) became \(phaseAfter) on \(event)")
            }
        }

        var stepped = Set<String>()
        for action in actions {
            guard case .runStep(let host, let step) = action else { continue }
            // Every runStep is a step the snapshot records as in flight, at most one per host.
            guard let run = sm.hostRun(host), run.step == step, run.stepInFlight else {
                fail("runStep \(host) \(step) without that step in flight")
                continue
            }
            if !stepped.insert(host).inserted { fail("two steps for \(host) in one event") }
            let was = old[host]
            // Not before its next attempt (a retry or the end of its Wake-on-LAN lead); an operator's retry
            // tries a deferred host at once.
            if step == .detect, was?.phase == .deferred || was?.phase == .pending, host != retried,
                let at = was?.nextAttemptAt, at > now
            {
                fail("\(host) started at \(now), before its next attempt at \(at)")
            }
            if step == .detect, was?.phase == .pending || was?.phase == .deferred {
                // A host leaves pending only when every earlier wave is done and its own wave is approved.
                for wave in after.waves where wave.index < run.wave && wave.phase != .done {
                    fail("\(host) of wave \(run.wave) started while wave \(wave.index) is \(wave.phase)")
                }
                let spec = after.waves[run.wave]
                let uids = Set(after.approvals.filter { $0.wave == run.wave && $0.planHash == F.planHash }.map(\.uid))
                let needed = spec.approval == .operator ? spec.approvalsNeeded : 1
                let sources = Set(after.approvals.filter { $0.wave == run.wave }.map(\.source))
                if uids.count < needed || (spec.approval == .operator && !sources.contains(.operator)) {
                    fail("\(host) of wave \(run.wave) started without its approval (\(uids.count)/\(needed))")
                }
                if recipe.window != nil, !sm.windowOpen { fail("\(host) started while the window is closed") }
                if [.halted, .paused, .aborted, .rollingBack].contains(phaseAfter) {
                    fail("\(host) started while the rollout is \(phaseAfter)")
                }
            }
            // Nothing moves forward after an abort: no install, and no verify after an install. A read-only
            // step that was in flight may run again on recovery; detect may settle an unknown install.
            if phaseBefore == .aborted || phaseAfter == .aborted {
                let rerun = event == .recover && was?.step == step && was?.stepInFlight == true
                if step == .install || (step == .verify && !rerun) || (step == .detect && was?.phase != .running) {
                    fail("\(step) sent to \(host) after the abort")
                }
            }
            // Nothing new starts while halted: only runs that were running go on.
            if phaseAfter == .halted, was?.phase != .running {
                fail("\(step) sent to \(host) while halted")
            }
            let resend: Bool = if case .retryDue = event { true } else { false }
            if step == .install, !recipe.idempotent, (was?.installAttempts ?? 0) > 0, host != retried, !resend,
                !(event == .recover && (was?.exitRetries ?? 0) > 0)
            {
                fail("non-idempotent install sent again to \(host)")
            }
        }
        // A deferred host had nothing sent to it; only a first contact that failed defers a host (or a user
        // logged on when its restart was due: its install ran).
        for run in after.hostRuns where run.phase == .deferred {
            if run.deferReason == DeferReason.userLoggedOn.rawValue {
                if !run.rebootPending { fail("\(run.host) deferred for a logged-on user without a reboot pending") }
            } else if run.changed || run.installAttempts > 0 {
                fail("\(run.host) deferred after install was sent")
            }
            if old[run.host]?.phase != .deferred, old[run.host]?.phase != .running {
                fail("\(run.host) deferred from \(old[run.host]?.phase.rawValue ?? "?")")
            }
            if run.nextAttemptAt == nil { fail("\(run.host) deferred without a next attempt") }
        }
        // Deferred hosts never count as failures, and a rollout never succeeds with hosts not reached.
        if phaseAfter == .succeeded, after.hostRuns.contains(where: { [.deferred, .unreached].contains($0.phase) }) {
            fail("succeeded with hosts deferred or unreached")
        }
        // A wake goes only to a host with a lead, ahead of an attempt that waits for it.
        for case .wake(let host) in actions {
            guard let run = sm.hostRun(host), let lead = run.wakeLeadSeconds else {
                fail("wake sent to \(host), which has no Wake-on-LAN lead")
                continue
            }
            if run.wokenFor != run.nextAttemptAt || (run.nextAttemptAt ?? 0) < now + lead * 1000 - 1 {
                fail("\(host) woken without its attempt \(lead) s later")
            }
        }
        // parallel holds for forward runs.
        for wave in after.waves {
            let running = after.hostRuns.filter { $0.wave == wave.index && $0.phase == .running }.count
            if let limit = wave.parallel, running > limit,
                running > before.hostRuns.filter({ $0.wave == wave.index && $0.phase == .running }).count
            {
                fail("wave \(wave.index): \(running) hosts running, parallel \(limit)")
            }
        }
        // Newest wave first: a host the machine starts rolling back has no newer host still to do.
        for run in after.hostRuns where run.phase == .rollingBack && old[run.host]?.phase != .rollingBack {
            if run.host == retried { continue }
            for newer in after.hostRuns where newer.wave > run.wave {
                if needsRollback(newer) || newer.phase == .running
                    || (newer.phase == .rollingBack && old[newer.host]?.phase == .rollingBack)
                {
                    fail("\(run.host) of wave \(run.wave) rolls back before \(newer.host) (\(newer.phase))")
                }
            }
        }
        // A host that succeeded runs the target; a host rolled back runs its previous version.
        for run in after.hostRuns where old[run.host]?.phase != run.phase {
            let version = installed[run.host] ?? nil
            switch run.phase {
            case .succeeded, .alreadyCurrent:
                if version != F.target { fail("\(run.host) \(run.phase) but runs \(version ?? "nothing")") }
            case .rolledBack:
                if version != run.previous { fail("\(run.host) rolled back but runs \(version ?? "nothing")") }
            default:
                break
            }
        }
    }

    /// At the end: final, or waiting for a person, with nothing in flight.
    func checkEnd() {
        let phase = sm.rollout.phase
        if !(phase.isFinal || phase.waitsForPerson) { fail("ended in \(phase)") }
        for run in sm.snapshot.hostRuns where run.stepInFlight || run.phase == .running || run.phase == .rollingBack {
            fail("ended in \(phase) with \(run.host) \(run.phase) \(run.step?.rawValue ?? "-")")
        }
        if phase == .succeeded {
            for run in sm.snapshot.hostRuns where run.phase == .pending { fail("succeeded with \(run.host) pending") }
        }
    }
}

@Test func randomizedRolloutsKeepTheirInvariants() {
    var finals: [RolloutPhase: Int] = [:]
    var events = 0
    for seed in UInt64(1)...3_000 {
        var r = RandomRollout(seed: seed)
        let length = 20 + r.rng.below(100)
        for _ in 0..<length { r.step() }
        r.drain()
        r.checkEnd()
        finals[r.sm.rollout.phase, default: 0] += 1
        events += r.events
    }
    // The sequences reach every kind of ending (the generator is not stuck in one corner).
    for phase in [RolloutPhase.succeeded, .aborted, .rolledBack, .failed, .halted, .paused, .waitingApproval] {
        #expect(finals[phase, default: 0] > 0, "no sequence ended \(phase): \(finals)")
    }
    #expect(events > 100_000)
}

/// Snapshots as a damaged or hand-edited store could hold them (phases that do not fit together, indexes out of
/// range): events are refused or applied, never a trap.
@Test func inconsistentSnapshotsNeverTrap() {
    for seed in UInt64(1)...1_500 {
        var r = RandomRollout(seed: seed)
        var s = r.sm.snapshot
        var rng = RolloutRandom(seed: seed &* 7919)
        func pick<T>(_ all: [T]) -> T { all[rng.below(all.count)] }
        s.rollout.phase = pick(RolloutPhase.allCases)
        s.rollout.resumePhase = rng.chance(50) ? pick(RolloutPhase.allCases) : nil
        s.rollout.currentWave = rng.below(s.waves.count + 3) - 1
        for i in s.waves.indices {
            s.waves[i].phase = pick(WavePhase.allCases)
            if rng.chance(10) { s.waves[i].index = rng.below(8) - 2 }
            if rng.chance(10) { s.waves[i].parallel = rng.below(3) - 1 }
            if rng.chance(10) { s.waves[i].approvalsNeeded = rng.below(3) - 1 }
        }
        for i in s.hostRuns.indices {
            s.hostRuns[i].phase = pick(HostRunPhase.allCases)
            s.hostRuns[i].step = rng.chance(80) ? pick(HostStep.allCases) : nil
            s.hostRuns[i].stepInFlight = rng.chance(50)
            s.hostRuns[i].changed = rng.chance(50)
            s.hostRuns[i].installAttempts = rng.below(6) - 1
            if rng.chance(10) { s.hostRuns[i].wave = rng.below(8) - 2 }
        }
        if rng.chance(10), let first = s.hostRuns.first { s.hostRuns.append(first) }  // a duplicate host
        r.sm = RolloutStateMachine(snapshot: s, windowOpen: rng.chance(50))
        _ = r.sm.handle(.recover, now: 4)
        for _ in 0..<40 {
            let host = r.hosts.isEmpty ? "x" : pick(r.hosts)
            let events: [RolloutInput] = [
                .start, .approve(F.approval(wave: rng.below(4) - 1, uid: UInt32(rng.below(3)))),
                .windowChanged(open: rng.chance(50), by: "t"),
                .stepFinished(
                    host: host, step: pick(HostStep.allCases), result: pick([F.ok(F.old), F.lost, F.notRun])),
                .bakeElapsed(wave: rng.below(5) - 1), .pause(by: "b"), .resume(by: "b"), .abort(by: "b", reason: "r"),
                .rollback(by: "b", reason: "r"), .retry(host: host, by: "b"), .skip(host: host, by: "b"), .recover,
                .planChanged(hash: pick([F.planHash, "other"])),
            ]
            let before = r.sm.snapshot
            if case .failure = r.sm.handle(pick(events), now: 5), r.sm.snapshot != before {
                Issue.record("seed \(seed): a refused event changed the snapshot")
            }
        }
    }
}
