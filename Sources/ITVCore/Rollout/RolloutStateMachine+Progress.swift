// Waves: entering, approving, starting, dispatching, completing, advancing.
extension RolloutStateMachine {
    mutating func apply(_ event: RolloutInput) throws(RolloutError) {
        switch event {
        case .start:
            guard rollout.phase == .planned else {
                throw conflict("cannot start rollout \(rollout.id): it is \(phaseName(rollout.phase)), not planned")
            }
            if snapshot.waves.isEmpty {
                finish(.succeeded)
            } else {
                enterWave(0)
            }
        case .approve(let approval):
            try approve(approval)
        case .windowChanged(let open, let by):
            windowOpen = open
            if open, rollout.phase == .waitingApproval, let wave = currentWave, wave.approval == .window,
                changedPlanHash == nil
            {
                snapshot.approvals.append(
                    ApprovalRecord(
                        rolloutID: rollout.id, wave: wave.index, source: .window, user: by, uid: 0, comment: nil,
                        planHash: rollout.planHash, at: now))
                emit(.announce(.waveApproved(wave: wave.index, by: by, complete: true)))
                startWave(wave.index)
            }
        case .tenantWindowsChanged(let held):
            heldHosts = held
        case .stepFinished(let host, let step, let result):
            try stepFinished(host: host, step: step, result: result)
        case .stepNotSent(let host, let step):
            guard let run = hostRun(host), run.step == step, run.stepInFlight else {
                throw conflict("rollout \(rollout.id): host \(host) has no \(step.rawValue) step in flight")
            }
            update(host) {
                $0.stepInFlight = false
                if step == .install { $0.installAttempts -= 1 }
                if step == .stage { $0.stageAttempts = max(0, $0.stageAttempts - 1) }
                if step == .reboot { $0.rebootStartedAt = nil }
                if step == .detect, !$0.changed, $0.phase == .running { $0.phase = .pending }
            }
        case .bakeElapsed(let index):
            guard index == rollout.currentWave, snapshot.waves.indices.contains(index),
                snapshot.waves[index].phase == .baking
            else { return }  // a timer from before a restart or a pause: nothing to do
            let finishedAt = now
            setWave(index) {
                $0.phase = .done
                $0.finishedAt = finishedAt
            }
            if rollout.phase == .baking { advance() }
        case .pause(let by), .resume(let by), .abort(let by, _), .rollback(let by, _), .retry(_, let by),
            .skip(_, let by):
            try operatorAction(event, by: by)
        case .recover:
            recover()
        case .planChanged(let hash):
            changedPlanHash = hash == rollout.planHash ? nil : hash
            startUnattendedWave()
        case .retryDue(let host):
            retryDue(host)
        case .rebootWentDown(let host):
            rebootWentDown(host)
        case .timerElapsed:
            armedTimer = nil  // the engine's timer fired: `progress` does what is due, the next is asked for
        }
    }

    /// An auto wave, or a window wave while its window is open, that waits only because the plan had changed
    /// or the rollout was paused, starts now (no edge of the window or of the bake would start it later).
    mutating func startUnattendedWave() {
        guard rollout.phase == .waitingApproval, changedPlanHash == nil, let wave = currentWave,
            wave.approval == .auto || (wave.approval == .window && windowOpen)
        else { return }
        enterWave(wave.index)
    }

    func conflict(_ message: String) -> RolloutError { RolloutError(.conflict, message) }

    /// Makes the wave current and lets its approval decide whether it starts.
    mutating func enterWave(_ index: Int) {
        snapshot.rollout.currentWave = index
        guard let wave = currentWave else { return }
        let mayStartUnattended = changedPlanHash == nil
        switch wave.approval {
        case .auto where mayStartUnattended:
            snapshot.approvals.append(
                ApprovalRecord(
                    rolloutID: rollout.id, wave: index, source: .auto, user: "itvd", uid: 0, comment: nil,
                    planHash: rollout.planHash, at: now))
            startWave(index)
        case .window where windowOpen && mayStartUnattended:
            snapshot.approvals.append(
                ApprovalRecord(
                    rolloutID: rollout.id, wave: index, source: .window, user: "itvd", uid: 0,
                    comment: "window \(rollout.recipe.window ?? "") open", planHash: rollout.planHash, at: now))
            emit(.announce(.waveApproved(wave: index, by: "itvd", complete: true)))
            startWave(index)
        default:
            snapshot.rollout.phase = .waitingApproval
            setWave(index) { $0.phase = .waitingApproval }
            emit(.announce(.waveWaiting(wave: index, approval: wave.approval)))
        }
    }

    mutating func approve(_ approval: ApprovalRecord) throws(RolloutError) {
        let id = rollout.id
        guard rollout.phase == .waitingApproval, let wave = currentWave else {
            throw conflict(
                "cannot approve rollout \(id): it is \(phaseName(rollout.phase)), not waiting for an approval")
        }
        guard approval.wave == wave.index else {
            throw conflict(
                "cannot approve wave \(approval.wave + 1) of rollout \(id): wave \(wave.index + 1) "
                    + "(\(wave.name)) is the one waiting")
        }
        if let changed = changedPlanHash {
            throw RolloutError(
                .planChanged,
                "cannot approve rollout \(id): its plan changed since it was made "
                    + "(plan \(rollout.planHash.prefix(12)) is now \(changed.prefix(12)): the playbook or inventory "
                    + "changed); earlier approvals no longer count. Abort it and start a new rollout")
        }
        guard wave.approval == .operator else {
            throw conflict(
                "cannot approve wave \(wave.index + 1) (\(wave.name)) of rollout \(id): it starts "
                    + (wave.approval == .window ? "when window \(rollout.recipe.window ?? "?") opens" : "by itself"))
        }
        guard approval.planHash == rollout.planHash else {
            throw RolloutError(
                .planChanged,
                "cannot approve rollout \(id): you approved plan "
                    + "\(approval.planHash.prefix(12)), but its plan is \(rollout.planHash.prefix(12)); "
                    + "review it (itvctl rollout show \(id)) and approve again")
        }
        if validApprovals(wave: wave.index).contains(where: { $0.uid == approval.uid }) {
            throw RolloutError(
                .alreadyApproved,
                "\(approval.user) already approved wave \(wave.index + 1) "
                    + "(\(wave.name)) of rollout \(id); it needs \(wave.approvalsNeeded) different operators")
        }
        var record = approval
        record.rolloutID = id  // stored under another rollout's id, it would vanish from this one on reload
        record.source = .operator
        record.at = now
        snapshot.approvals.append(record)
        let complete = validApprovals(wave: wave.index).count >= wave.approvalsNeeded
        emit(.announce(.waveApproved(wave: wave.index, by: approval.user, complete: complete)))
        if complete { startWave(wave.index) }
    }

    mutating func startWave(_ index: Int) {
        snapshot.rollout.phase = .running
        let startedAt = now
        setWave(index) {
            $0.phase = .running
            $0.startedAt = startedAt
        }
        emit(.announce(.waveStarted(wave: index)))
        scheduleWakes(wave: index)
    }

    /// Moves the rollout on as far as its state allows; called after every event.
    mutating func progress() {
        settleExpired()
        for _ in 0...(snapshot.waves.count + 1) {
            let before = snapshot
            switch rollout.phase {
            case .running:
                dispatchRetried()
                guard let wave = currentWave else { return }
                let runs = hostRuns(inWave: wave.index)
                // The last wave also waits for retried hosts of earlier waves: the rollout ends after them
                // (deferred hosts are caught up afterwards).
                let last = wave.index == snapshot.waves.count - 1
                if (last ? snapshot.hostRuns : runs).allSatisfy({ $0.phase.isSettledOrDeferred }) {
                    completeWave(wave.index, empty: runs.isEmpty)
                } else {
                    dispatch(wave)
                }
            case .baking, .waitingApproval:
                dispatchRetried()
            case .catchingUp:
                dispatchRetried()
                finishOrCatchUp()
            case .rollingBack:
                progressRollback()
            default:
                return
            }
            if snapshot == before { return }
        }
    }

    var windowAllowsDispatch: Bool { rollout.recipe.window == nil || windowOpen }

    mutating func dispatch(_ wave: WaveRecord) {
        guard rollout.phase == .running, windowAllowsDispatch else { return }
        dispatchPending(wave)
    }

    /// Hosts an operator retried, and deferred hosts due for a retry, in a wave that finished (or bakes) run
    /// again while the rollout runs, bakes, waits for the next approval or catches up; the wave was approved
    /// already. (Those of the running wave are dispatched with it; while halted or paused they wait.)
    mutating func dispatchRetried() {
        guard windowAllowsDispatch else { return }
        let current = rollout.currentWave
        for wave in snapshot.waves
        where wave.index < current || (wave.index == current && [.baking, .done].contains(wave.phase)) {
            dispatchPending(wave)
        }
    }

    /// Starts the wave's pending hosts, and its deferred hosts whose retry is due, up to `parallel`. A host
    /// with a Wake-on-LAN lead is woken first and starts `lead` later.
    mutating func dispatchPending(_ wave: WaveRecord) {
        guard !dispatchHeld else { return }
        let limit = wave.parallel ?? Int.max
        var running = hostRuns(inWave: wave.index).filter { $0.phase == .running }.count
        for run in hostRuns(inWave: wave.index)
        where (run.phase == .pending || run.phase == .deferred) && !heldHosts.contains(run.host) {
            guard let at = run.nextAttemptAt else {
                if run.phase == .pending, running < limit {
                    startHost(run.host)
                    running += 1
                }
                continue
            }
            if let lead = run.wakeLeadSeconds, run.wokenFor != at {
                if now >= at - lead * 1000 { wake(run.host, lead: lead, attempt: at) }
                continue
            }
            if at <= now, running < limit {
                startHost(run.host)
                running += 1
            }
        }
    }

    mutating func completeWave(_ index: Int, empty: Bool) {
        emit(.announce(.waveDone(wave: index)))
        // Indexes come from records: a damaged snapshot (wave index not its position) must not trap.
        let bake = snapshot.waves.indices.contains(index) ? snapshot.waves[index].bakeSeconds : 0
        if bake > 0, !empty, index + 1 < snapshot.waves.count {
            snapshot.rollout.phase = .baking
            setWave(index) { $0.phase = .baking }
            emit(.scheduleBake(wave: index, seconds: bake))
        } else {
            let finishedAt = now
            setWave(index) {
                $0.phase = .done
                $0.finishedAt = finishedAt
            }
            advance()
        }
    }

    mutating func advance() {
        let next = rollout.currentWave + 1
        if next >= snapshot.waves.count {
            finishOrCatchUp()
        } else {
            enterWave(next)
        }
    }

    mutating func finish(_ phase: RolloutPhase) {
        snapshot.rollout.phase = phase
        snapshot.rollout.resumePhase = nil
        switch phase {
        case .succeeded: emit(.announce(.succeeded))
        case .rolledBack: emit(.announce(.rolledBack))
        case .failed: emit(.announce(.failed(reason: rollout.reason ?? "")))
        default: break
        }
    }

    /// Halts or rolls back when the current wave's failures exceed `max_failures`.
    mutating func checkThreshold(wave index: Int) {
        guard index == rollout.currentWave, snapshot.waves.indices.contains(index),
            [.running, .paused].contains(rollout.phase)
        else { return }
        let hosts = hostRuns(inWave: index).count
        let failures = failures(inWave: index)
        let threshold = rollout.recipe.threshold
        guard threshold.isExceeded(failures: failures, hosts: hosts) else { return }
        let wave = snapshot.waves[index]
        let reason =
            "wave \(index + 1) (\(wave.name)): \(failures) of \(hosts) hosts failed, more than "
            + "max_failures \(threshold)"
        snapshot.rollout.reason = reason
        if rollout.recipe.onFailure == .rollback, rollout.recipe.steps[HostStep.rollback.rawValue] != nil {
            setWave(index) { $0.phase = .halted }
            startRollback(reason: reason)
            return
        }
        halt(wave: index, reason: reason)
    }

    /// Halts the rollout at wave `index` (a paused rollout resumes into `halted`) and announces why.
    mutating func halt(wave index: Int, reason: String) {
        setWave(index) { $0.phase = .halted }
        if rollout.phase == .paused {
            snapshot.rollout.resumePhase = .halted
        } else {
            snapshot.rollout.phase = .halted
        }
        emit(.announce(.halted(reason: reason)))
    }
}
