// The undo path: starting a rollback, stopping the waves, rolling back each changed host step by step.
extension RolloutStateMachine {
    mutating func startRollback(reason: String) {
        snapshot.rollout.phase = .rollingBack
        snapshot.rollout.resumePhase = nil
        snapshot.rollout.reason = reason
        stopWaves()
        emit(.announce(.rollingBack(reason: reason)))
    }

    /// The rollout stops going forward (abort, rollback): a wave that waited for its approval never starts
    /// (back to `pending`: no one should approve it), a running one dispatches nothing more (`halted`; its
    /// host runs in flight finish). A baking wave stays baking until its bake ends (then `done`).
    mutating func stopWaves() {
        for run in snapshot.hostRuns where run.phase == .deferred {
            if run.changed {
                // Deferred for its restart (a user was logged on): the install ran, restart and verify did not.
                // Unknown, so that a rollback reverts it and an operator settles it after an abort.
                update(run.host) {
                    $0.phase = .unknown
                    $0.nextAttemptAt = nil
                    $0.error = "install ran; restart and verify not done before the rollout stopped going forward"
                }
                emit(.releaseHost(host: run.host))
                continue
            }
            // Nothing was sent to them, and nothing will be.
            update(run.host) {
                $0.phase = .skipped
                $0.nextAttemptAt = nil
                $0.error = "not reached before the rollout stopped going forward"
            }
            emit(.releaseHost(host: run.host))
        }
        for index in snapshot.waves.indices {
            switch snapshot.waves[index].phase {
            case .waitingApproval: snapshot.waves[index].phase = .pending
            case .running: snapshot.waves[index].phase = .halted
            case .pending, .baking, .done, .halted: break
            }
        }
    }

    /// Hosts the rollout may have changed and that are not rolled back yet.
    func needsRollback(_ run: HostRunRecord) -> Bool {
        run.changed && [.succeeded, .failed, .unknown, .alreadyCurrent].contains(run.phase)
    }

    /// Rolls back the newest wave first; finishes when every changed host is settled.
    mutating func progressRollback() {
        let runs = snapshot.hostRuns
        let busy = runs.contains { $0.phase == .running || $0.phase == .rollingBack }
        guard let wave = runs.filter({ needsRollback($0) }).map(\.wave).max() else {
            if !busy {
                let failed = runs.filter { $0.phase == .rollbackFailed }.count
                if failed > 0 {
                    snapshot.rollout.reason = "\(failed) host(s) could not be rolled back"
                    finish(.failed)
                } else {
                    finish(.rolledBack)
                }
            }
            return
        }
        // Newer waves still rolling back (or running forward) go first.
        if runs.contains(where: { $0.wave > wave && ($0.phase == .rollingBack || $0.phase == .running) }) { return }
        let limit = snapshot.waves.indices.contains(wave) ? snapshot.waves[wave].parallel ?? Int.max : Int.max
        var active = runs.filter { $0.wave == wave && $0.phase == .rollingBack }.count
        for run in runs where run.wave == wave && needsRollback(run) {
            guard active < limit else { return }
            update(run.host) {
                $0.phase = .rollingBack
                $0.errorKind = nil
                $0.error = nil
            }
            startStep(run.host, .rollback)
            active += 1
        }
    }

    mutating func rollbackStepFinished(_ run: HostRunRecord, step: HostStep, result: StepResult) {
        let host = run.host
        if step == .detect {
            // Settling a rollback whose outcome was unknown.
            if case .success(let found) = detectOutcome(run, result) {
                emit(.recordHostVersion(host: host, version: found?.raw))
                if found?.raw == run.previous
                    || (found != nil
                        && run.previous.flatMap {
                            try? rollout.recipe.scheme.parse($0).get()
                        } == found)
                {
                    settle(host, .rolledBack, kind: nil, message: nil)
                    return
                }
            }
            settle(
                host, .rollbackFailed, kind: "outcome_unknown",
                message: "rollback outcome unknown and the host "
                    + "does not run \(run.previous ?? "its previous version"): retry or skip")
            return
        }
        switch result {
        case .exited(0, _, _):
            emit(.recordHostVersion(host: host, version: run.previous))
            settle(host, .rolledBack, kind: nil, message: nil)
        case .exited(let code, _, let stderr):
            settle(host, .rollbackFailed, kind: "exit_status", message: "rollback exited \(code)\(Self.tail(stderr))")
        case .notRun(let kind, let message):
            settle(host, .rollbackFailed, kind: kind, message: "rollback not sent: \(message)")
        case .unknown:
            update(host) { $0.step = .rollback }
            startStep(host, .detect)
        }
    }
}
