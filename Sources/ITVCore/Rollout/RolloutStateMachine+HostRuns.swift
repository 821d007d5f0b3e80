// Host runs: detect, install, verify; unknown outcomes settled by detect; rollback steps.
extension RolloutStateMachine {
    /// Starts a host run from `detect`; a host deferred because a user was logged on when it was due to
    /// restart (its install is done) starts from `user_check` again.
    mutating func startHost(_ host: String) {
        let resumeReboot =
            hostRun(host).map {
                $0.phase == .deferred && $0.deferReason == DeferReason.userLoggedOn.rawValue && $0.rebootPending
            } ?? false
        let startedAt = now
        update(host) {
            $0.phase = .running
            $0.errorKind = nil
            $0.error = nil
            $0.nextAttemptAt = nil
            if $0.firstAttemptAt == nil { $0.firstAttemptAt = startedAt }
        }
        startStep(host, resumeReboot ? .userCheck : .detect)
    }

    /// Records the intent to run a step (persisted before the engine sends it), or settles the host when
    /// the rollout no longer lets the chain go on.
    mutating func startStep(_ host: String, _ step: HostStep) {
        guard let run = hostRun(host) else { return }
        let phase = rollout.phase
        if step != .detect, run.phase == .running, [.aborted, .rollingBack, .rolledBack, .failed].contains(phase) {
            // The forward run stops here: nothing new after an abort or once rolling back.
            let why = phase == .aborted ? "rollout aborted" : "rollout is rolling back"
            switch step {
            case .install where !run.changed, .stage where !run.changed:
                settle(host, .skipped, kind: "interrupted", message: "not installed: \(why)")
            case .install, .stage:
                // An earlier install (unknown outcome, or before a retry) may have changed the host.
                settle(
                    host, phase == .aborted ? .unknown : .failed, kind: "interrupted",
                    message: "install outcome unknown, not sent again: \(why)")
            default:
                settle(
                    host, phase == .aborted ? .unknown : .failed, kind: "interrupted",
                    message: "install ran, verify not run: \(why)")
            }
            return
        }
        let at = now
        update(host) {
            $0.step = step
            $0.stepInFlight = true
            if step == .install { $0.installAttempts += 1 }
            if step == .stage { $0.stageAttempts += 1 }
            if step == .reboot {
                // The restart's deadline counts from its intent, so that a daemon restart cannot extend it.
                $0.rebootStartedAt = at
                $0.rebootWentDown = false
            }
        }
        emit(.runStep(host: host, step: step))
    }

    mutating func stepFinished(host: String, step: HostStep, result: StepResult) throws(RolloutError) {
        guard let run = hostRun(host) else {
            throw RolloutError(.notFound, "rollout \(rollout.id) has no host \(host)")
        }
        guard run.step == step, run.stepInFlight else {
            throw conflict("rollout \(rollout.id): host \(host) has no \(step.rawValue) step in flight")
        }
        update(host) { $0.stepInFlight = false }
        if run.phase == .rollingBack {
            rollbackStepFinished(run, step: step, result: result)
            return
        }
        switch step {
        case .detect: detectFinished(run, result: result)
        case .stage: stageFinished(run, result: result)
        case .install: installFinished(run, result: result)
        case .verify: verifyFinished(run, result: result)
        case .rollback: break  // only runs in phase rolling_back
        case .userCheck: userCheckFinished(run, result: result)
        case .reboot: rebootFinished(run, result: result)
        case .waitReboot: waitRebootFinished(run, result: result)
        }
    }

    /// `detect` prints the installed version or nothing. Anything that does not parse under the scheme
    /// is hostile or broken output: the host fails and nothing is installed.
    mutating func detectOutcome(_ run: HostRunRecord, _ result: StepResult) -> Result<Version?, StepFailure> {
        switch result {
        case .exited(0, let stdout, _):
            // CR LF (Windows hosts) is one Character, which `separator: "\n"` does not split on. Other
            // separators (VT, U+2028, ...) stay in the text and fail the version grammar.
            let line = stdout.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).first.map(String.init) ?? ""
            let text = line.trimmingASCIISpaces()
            if text.isEmpty { return .success(nil) }
            switch rollout.recipe.scheme.parse(text) {
            case .success(let v): return .success(v)
            case .failure(let e):
                emit(.announce(.hostileOutput(host: run.host, message: "detect printed \(e)")))
                return .failure(
                    StepFailure(
                        kind: "bad_detect_output", message: "detect printed something that is not a version: \(e)"))
            }
        case .exited(let code, _, let stderr):
            return .failure(StepFailure(kind: "exit_status", message: "detect exited \(code)\(Self.tail(stderr))"))
        case .notRun(let kind, let message), .unknown(let kind, let message):
            return .failure(StepFailure(kind: kind, message: "detect: \(message)"))
        }
    }

    mutating func detectFinished(_ run: HostRunRecord, result: StepResult) {
        let host = run.host
        let target = rollout.recipe.scheme.parse(rollout.version)
        let reconciling = run.installAttempts > 0
        switch detectOutcome(run, result) {
        case .failure(let f):
            let (kind, message) = (f.kind, f.message)
            if !reconciling, !run.changed, case .notRun(let notRunKind, _) = result,
                Self.unreachedKinds.contains(notRunKind)
            {
                // First contact failed before anything was sent: a switched-off PC, not a failure.
                deferHost(host, reason: .unreached, kind: kind, message: message)
            } else if reconciling {
                settle(host, .unknown, kind: kind, message: "install outcome unknown and detect failed: \(message)")
            } else {
                settle(host, .failed, kind: kind, message: message)
            }
        case .success(let found):
            emit(.recordHostVersion(host: host, version: found?.raw))
            let isTarget = found != nil && (try? target.get()) == found
            if reconciling {
                if isTarget {
                    startStep(host, .verify)
                } else if rollout.recipe.idempotent, run.installAttempts < Self.maxInstallAttempts {
                    startInstall(host)
                } else {
                    let why =
                        rollout.recipe.idempotent
                        ? "install was sent \(run.installAttempts) times" : "the install step is not idempotent"
                    settle(
                        host, .unknown, kind: "outcome_unknown",
                        message: "install outcome unknown and the host "
                            + "runs \(found?.raw ?? "nothing"), not \(rollout.version); not sent again because \(why): "
                            + "retry or skip")
                }
            } else if isTarget {
                settle(host, run.changed ? .succeeded : .alreadyCurrent, kind: nil, message: nil)
            } else {
                if !run.changed { update(host) { $0.previous = found?.raw } }
                startInstall(host)
            }
        }
    }

    /// `install`, preceded by `stage` when the rollout has an artifact (every time: a stage finds a file
    /// that is already there at once and sends nothing).
    mutating func startInstall(_ host: String) {
        startStep(host, rollout.recipe.artifact == nil ? .install : .stage)
    }

    /// `stage` changes nothing but the artifact directory and is safe to repeat: an outcome that could not
    /// be learned (a dropped connection, a deadline) sends it again, up to ``maxStageAttempts`` sends in a row
    /// (counted in the persisted host run, restarts included).
    mutating func stageFinished(_ run: HostRunRecord, result: StepResult) {
        let host = run.host
        switch result {
        case .exited(0, _, _):
            update(host) { $0.stageAttempts = 0 }
            startStep(host, .install)
        case .exited(let code, _, let stderr):
            update(host) { $0.stageAttempts = 0 }
            settle(host, .failed, kind: "stage_failed", message: "stage exited \(code)\(Self.tail(stderr))")
        case .notRun(let kind, let message):
            update(host) { $0.stageAttempts = 0 }
            settle(host, .failed, kind: kind, message: "stage: \(message)")
        case .unknown(let kind, let message):
            stageOutcomeUnknown(run, kind: kind, message: message)
        }
    }

    /// A stage whose outcome is not known (its connection dropped, its deadline passed, or the daemon stopped
    /// while it ran): sent again while fewer than ``maxStageAttempts`` were sent in a row, else the host fails.
    mutating func stageOutcomeUnknown(_ run: HostRunRecord, kind: String, message: String) {
        let attempts = max(1, run.stageAttempts)
        if attempts < Self.maxStageAttempts {
            startStep(run.host, .stage)
        } else {
            settle(
                run.host, .failed, kind: kind,
                message: "stage did not finish in \(attempts) attempts, install not sent: \(message)")
        }
    }

    mutating func installFinished(_ run: HostRunRecord, result: StepResult) {
        switch result {
        case .exited(let code, _, let stderr):
            installExited(run, code: code, stderr: stderr)
        case .notRun(let kind, let message):
            update(run.host) { $0.installAttempts -= 1 }
            settle(run.host, .failed, kind: kind, message: "install not sent: \(message)")
        case .unknown:
            update(run.host) { $0.changed = true }
            startStep(run.host, .detect)  // settle the unknown outcome by what the host runs now
        }
    }

    mutating func verifyFinished(_ run: HostRunRecord, result: StepResult) {
        switch result {
        case .exited(0, _, _):
            emit(.recordHostVersion(host: run.host, version: rollout.version))
            // A restart left out because of a logged-on user stays explained next to "reboot pending".
            let kept = run.rebootPending && ["user_logged_on", "user_check_failed"].contains(run.errorKind ?? "")
            settle(run.host, .succeeded, kind: kept ? run.errorKind : nil, message: kept ? run.error : nil)
        case .exited(let code, _, let stderr):
            settle(run.host, .failed, kind: "verify_failed", message: "verify exited \(code)\(Self.tail(stderr))")
        case .notRun(let kind, let message), .unknown(let kind, let message):
            settle(run.host, .unknown, kind: kind, message: "install ran, verify did not finish: \(message)")
        }
    }

    /// Ends a host's run in a settled phase, announces it and checks the wave's failure threshold.
    mutating func settle(_ host: String, _ phase: HostRunPhase, kind: String?, message: String?) {
        update(host) {
            $0.phase = phase
            $0.stepInFlight = false
            $0.errorKind = kind
            $0.error = message
        }
        emit(.releaseHost(host: host))
        guard let run = hostRun(host) else { return }
        switch phase {
        case .succeeded, .alreadyCurrent:
            emit(.announce(.hostSucceeded(host: host, alreadyCurrent: phase == .alreadyCurrent)))
        case .failed:
            emit(.announce(.hostFailed(host: host, kind: kind ?? "failed", message: message ?? "")))
            checkThreshold(wave: run.wave)
        case .unknown:
            emit(.announce(.hostUnknown(host: host, message: message ?? "")))
            checkThreshold(wave: run.wave)
        case .rolledBack, .rollbackFailed:
            emit(.announce(.hostRolledBack(host: host, ok: phase == .rolledBack, message: message)))
        default:
            break
        }
    }

    /// The last line of a step's stderr, for error messages (control characters escaped, cut).
    static func tail(_ stderr: String) -> String {
        let last = stderr.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        let text = escapedForMessage(last.trimmingASCIISpaces())
        return text.isEmpty ? "" : ": \(text)"
    }
}

extension String {
    func trimmingASCIISpaces() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !" \t\r".unicodeScalars.contains($0) }),
            let end = scalars.lastIndex(where: { !" \t\r".unicodeScalars.contains($0) })
        else { return "" }
        return String(scalars[start...end])
    }
}

/// A step that did not give what the run needs, with a stable kind.
struct StepFailure: Error, Hashable {
    var kind: String
    var message: String
}
