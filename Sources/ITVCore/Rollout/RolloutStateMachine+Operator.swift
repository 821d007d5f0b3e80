// Operator controls (pause, resume, abort, rollback, retry, skip) and crash recovery; the rollback itself is in
// RolloutStateMachine+Rollback.swift.
extension RolloutStateMachine {
    mutating func operatorAction(_ event: RolloutInput, by user: String) throws(RolloutError) {
        let id = rollout.id
        let phase = rollout.phase
        switch event {
        case .pause:
            guard [.planned, .waitingApproval, .running, .baking, .halted, .catchingUp].contains(phase) else {
                throw conflict("cannot pause rollout \(id): it is \(phaseName(phase))")
            }
            snapshot.rollout.resumePhase = phase
            snapshot.rollout.phase = .paused
            emit(.announce(.paused))
        case .resume:
            if phase == .halted {
                // The operator looked at the failures and lets the wave go on.
                snapshot.rollout.phase = .running
                snapshot.rollout.reason = nil
                setWave(rollout.currentWave) { $0.phase = .running }
                emit(.announce(.resumed))
                return
            }
            guard phase == .paused else {
                throw conflict("cannot resume rollout \(id): it is \(phaseName(phase)), not paused or halted")
            }
            let back = rollout.resumePhase ?? .running
            snapshot.rollout.resumePhase = nil
            snapshot.rollout.phase = back
            emit(.announce(.resumed))
            if back == .baking, currentWave?.phase == .done { advance() }
            startUnattendedWave()
        case .abort(_, let reason):
            guard !phase.isFinal, phase != .rollingBack else {
                throw conflict("cannot abort rollout \(id): it is \(phaseName(phase))")
            }
            snapshot.rollout.phase = .aborted
            snapshot.rollout.resumePhase = nil
            snapshot.rollout.reason = reason
            stopWaves()
            emit(.announce(.aborted(reason: reason)))
        case .rollback(_, let reason):
            guard rollout.recipe.steps[HostStep.rollback.rawValue] != nil else {
                throw RolloutError(.invalid, "cannot roll back rollout \(id): the playbook has no rollback step")
            }
            guard ![.rollingBack, .rolledBack, .planned].contains(phase) else {
                throw conflict("cannot roll back rollout \(id): it is \(phaseName(phase))")
            }
            guard phase != .failed else {
                // A second rollback would skip the rollback_failed hosts and fail again at once.
                throw conflict(
                    "cannot roll back rollout \(id) again: its rollback failed; retry or skip its "
                        + "rollback_failed hosts")
            }
            startRollback(reason: reason)
        case .retry(let host, _):
            try retry(host)
        case .skip(let host, _):
            guard let run = hostRun(host) else { throw RolloutError(.notFound, "rollout \(id) has no host \(host)") }
            guard [.failed, .unknown, .pending, .rollbackFailed, .deferred, .unreached].contains(run.phase),
                !phase.isFinal
            else {
                throw conflict(
                    "cannot skip host \(host) of rollout \(id): it is \(run.phase.rawValue.replacingUnderscores())")
            }
            update(host) {
                $0.phase = .skipped
                $0.error = "skipped by \(user)"
                $0.nextAttemptAt = nil
            }
            emit(.releaseHost(host: host))
        default:
            break
        }
    }

    mutating func retry(_ host: String) throws(RolloutError) {
        let id = rollout.id
        guard let run = hostRun(host) else { throw RolloutError(.notFound, "rollout \(id) has no host \(host)") }
        if run.phase == .rollbackFailed, rollout.phase == .rollingBack || rollout.phase == .failed {
            snapshot.rollout.phase = .rollingBack
            update(host) { $0.phase = .rollingBack }
            startStep(host, .rollback)
            return
        }
        guard [.failed, .unknown, .deferred, .unreached].contains(run.phase) else {
            throw conflict(
                "cannot retry host \(host) of rollout \(id): it is \(run.phase.rawValue.replacingUnderscores()), "
                    + "not failed, unknown, deferred or unreached")
        }
        guard [.running, .halted, .paused, .baking, .waitingApproval, .catchingUp].contains(rollout.phase) else {
            let hint =
                rollout.phase == .incomplete
                ? "; start a new rollout of \(rollout.procedure) \(rollout.version) for its unreached hosts "
                    + "(hosts that run it already are passed over)" : ""
            throw conflict(
                "cannot retry host \(host) of rollout \(id): the rollout is \(phaseName(rollout.phase))\(hint)")
        }
        // An operator's retry may send install again even when the step is not idempotent. A deferred or
        // unreached host is tried at once (after its Wake-on-LAN lead), its deadline counted anew.
        let at = now
        update(host) {
            $0.phase = .pending
            $0.installAttempts = 0
            $0.exitRetries = 0
            $0.stageAttempts = 0
            $0.rebootStartedAt = nil
            $0.rebootWentDown = false
            $0.errorKind = nil
            $0.error = nil
            $0.deferReason = nil
            $0.firstAttemptAt = nil
            $0.nextAttemptAt = $0.wakeLeadSeconds == nil ? nil : at
        }
        // Dispatched by `progress`, with its wave or as a retried host of an earlier wave.
    }

    // MARK: - Recovery after a restart

    /// Every step that was in flight when the daemon stopped has an unknown outcome: read-only steps run
    /// again, an install or rollback in doubt is settled by `detect`. Runs between steps start over.
    mutating func recover() {
        for run in snapshot.hostRuns where run.phase == .running || run.phase == .rollingBack {
            if run.stepInFlight, let step = run.step {
                switch step {
                case .detect, .verify:
                    emit(.runStep(host: run.host, step: step))  // read-only
                case .stage:
                    // Safe to repeat (the final name only ever holds a checked file), and counted: a host whose
                    // stage never finishes is not sent it forever across restarts.
                    stageOutcomeUnknown(
                        run, kind: "interrupted", message: "the daemon stopped while stage ran (outcome unknown)")
                case .install:
                    update(run.host) { $0.changed = true }
                    startStep(run.host, .detect)
                case .rollback:
                    startStep(run.host, .detect)
                case .userCheck:
                    emit(.runStep(host: run.host, step: step))
                case .reboot:
                    // The reboot may have been sent: never send it twice. Wait for the host instead.
                    let at = now
                    update(run.host) {
                        $0.step = .waitReboot
                        if $0.rebootStartedAt == nil { $0.rebootStartedAt = at }
                    }
                    emit(.announce(.hostReboot(host: run.host, message: "reboot command may have been sent: waiting")))
                    emit(.runStep(host: run.host, step: .waitReboot))
                case .waitReboot:
                    emit(.runStep(host: run.host, step: .waitReboot))  // resume waiting, same deadline
                }
            } else if run.phase == .running, run.step == .install, run.exitRetries > 0 {
                // Waiting to send install again after a `retry` exit code: wait the backoff again.
                emit(.scheduleRetry(host: run.host, seconds: Self.exitRetryBackoff(run.exitRetries)))
            } else if run.phase == .running, let step = run.step, [.userCheck, .reboot, .waitReboot].contains(step) {
                // Recorded, never sent (the daemon stopped first): send it now.
                startStep(run.host, step)
            } else if run.phase == .running {
                // Between steps: nothing is in doubt. Start over from detect, keeping `previous`.
                startStep(run.host, .detect)
            } else {
                startStep(run.host, .rollback)
            }
        }
        let baking = rollout.phase == .baking || (rollout.phase == .paused && rollout.resumePhase == .baking)
        if baking, let wave = currentWave, wave.phase == .baking {
            // The monotonic clock does not survive a restart: bake again in full (never shorter).
            emit(.scheduleBake(wave: wave.index, seconds: wave.bakeSeconds))
        }
    }
}
