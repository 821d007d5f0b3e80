import ITVCore
import Logging

// Host steps over the RemoteExecutor, host locks, timers.
extension RolloutEngine {
    func execute(_ item: Work) async {
        switch item {
        case .step(let id, let host, let step):
            let started = ContinuousClock.now
            let result = await runStep(rollout: id, host: host, step: step)
            stepEnded()
            let elapsed = ContinuousClock.now - started
            if let result {  // a step that was never sent has no duration or outcome to count
                observer?.stepFinished(
                    step, outcome: Self.outcome(of: result),
                    seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            }
            do {
                if let result {
                    try await apply(id, .stepFinished(host: host, step: step, result: result))
                } else {
                    try await apply(id, .stepNotSent(host: host, step: step))
                }
            } catch {
                logger.error(
                    "cannot record the \(step.rawValue) result of host \(host): \(error)",
                    metadata: ["rollout": "\(id)", "host": "\(host)"])
            }
        case .bake(let id, let wave, let seconds):
            do {
                try await clock.sleep(seconds: Double(seconds))
                try await apply(id, .bakeElapsed(wave: wave))
            } catch {
                // Cancelled (stopping) or the rollout ended meanwhile: recovery reschedules bakes.
            }
        case .retry(let id, let host, let seconds):
            do {
                try await clock.sleep(seconds: Double(seconds))
                try await apply(id, .retryDue(host: host))
            } catch {
                // Cancelled (stopping) or the rollout ended meanwhile: recovery reschedules the retry.
            }
        case .windowEnd(let name, let until):
            do {
                try await clock.sleep(seconds: Double(max(0, until - clock.now())) / 1000)
                await windowTimeElapsed(name, until: until)
            } catch {}
        case .timer(let id, let at):
            do {
                // Slept in pieces of at most a minute: a timer replaced by an earlier one ends soon.
                while true {
                    guard timers[id] == at else { return }
                    let left = Double(at - clock.now()) / 1000
                    if left <= 0 { break }
                    try await clock.sleep(seconds: min(left, 60))
                    if left <= 60 { break }
                }
                guard timers[id] == at else { return }
                timers[id] = nil
                try await apply(id, .timerElapsed)
            } catch {
                // Cancelled (stopping) or the rollout ended meanwhile: recovery arms the timer again.
            }
        case .wake(let id, let host, let mac, let target):
            if let error = await wakeSender.send(mac: mac, to: target.address, port: target.port) {
                logger.warning(
                    "rollout \(id): cannot send the Wake-on-LAN packet to \(host): \(error)",
                    metadata: ["rollout": "\(id)", "host": "\(host)", "event": "\(ITVEvent.hostWake.rawValue)"])
            }
        case .closeSession(let session):
            await session.close()
        case .autoPlan(let target, let at):
            do {
                try await clock.sleep(seconds: Double(max(0, at - clock.now())) / 1000)
                await autoPlanTimerFired(target, at: at)
            } catch {}
        }
    }

    /// Sends a host's magic packet (its MAC from the inventory as it is now, to its `wake_on_lan` address).
    func sendWake(_ host: String, rollout id: Int64) {
        guard let target = set.wakeOnLAN(for: host), let text = set.inventory.host(named: host)?.mac,
            let mac = MACAddress.parse(text)
        else {
            logger.info(
                "rollout \(id): \(host) has no MAC address or wake_on_lan any more: not woken",
                metadata: ["rollout": "\(id)", "host": "\(host)"])
            return
        }
        workContinuation.yield(.wake(rollout: id, host: host, mac: mac, target: target))
    }

    /// Runs one step on a host and says how it ended. Takes the host's lock (one host run at a time per
    /// host, across rollouts) and its session (one per host run, opened on first use). Nil when the step was
    /// not sent because the daemon began to stop (or its store failed) while the step waited for the host's
    /// lock or its connection: checked again after those waits, right before sending.
    func runStep(rollout id: Int64, host name: String, step: HostStep) async -> StepResult? {
        guard let machine = machines[id], let run = machine.hostRun(name) else {
            return .notRun(kind: "not_found", message: "rollout \(id) has no host \(name)")
        }
        let rollout = machine.rollout
        guard let host = set.inventory.host(named: name) else {
            return .notRun(kind: "host_unknown", message: "host \(name) is no longer in the inventory")
        }
        if step == .waitReboot {  // sends no command
            return await waitForReboot(rollout: id, host: host, run: run)
        }
        let command: String
        let stage: StageRequest?
        if step == .stage {
            switch stageRequest(rollout.recipe, os: host.os) {
            case .success(let request): stage = request
            case .failure(let refusal): return .notRun(kind: refusal.kind, message: refusal.message)
            }
            command = ""
        } else {
            guard let template = rollout.recipe.template(step, for: host.os) else {
                return .notRun(
                    kind: "no_command", message: "the playbook has no \(host.os.rawValue) \(step.rawValue) command")
            }
            var values: [TemplateVariable: String] = [
                .version: rollout.version, .previous: run.previous ?? "", .host: name, .procedure: rollout.procedure,
            ]
            if let placement = rollout.recipe.artifactPlacement(for: host.os) { values[.artifact] = placement.path }
            switch template.render(values, for: host.os) {
            case .success(let c): command = c
            case .failure(let e): return .notRun(kind: "template", message: e.message)
            }
            stage = nil
        }
        await acquireHost(name, owner: id)
        if stopping || storeFailure != nil { return nil }
        let key = SessionKey(rollout: id, host: name)
        let session: any RemoteSession
        if let open = sessions[key] {
            session = open
        } else {
            switch await executor.connect(to: RemoteHost(host)) {
            case .success(let s):
                session = s
                sessions[key] = s
            case .failure(let error):
                // A changed host key is journaled once, by the executor that compared it (with both
                // fingerprints); the host run records it as `hostkey_mismatch`.
                return .notRun(kind: error.outcome.kind, message: Self.describe(error.outcome))
            }
        }
        if stopping || storeFailure != nil {
            // Not sent: the session stays for the next run (a stop closes every session).
            return nil
        }
        let result: StepResult
        if let stage {
            result = Self.stageResult(await session.stage(stage, timeout: .seconds(rollout.recipe.timeoutSeconds)))
        } else {
            result = Self.stepResult(await session.run(command, timeout: .seconds(rollout.recipe.timeoutSeconds)))
        }
        if case .exited = result {
        } else {
            // The connection is in doubt: the next step connects again.
            sessions[key] = nil
            workContinuation.yield(.closeSession(session))
        }
        return result
    }

    static func stepResult(_ outcome: CommandOutcome) -> StepResult {
        switch outcome {
        case .ok(let exit, let stdout, let stderr, _):
            return .exited(code: exit, stdout: stdout.text, stderr: stderr.text)
        default:
            return .unknown(kind: outcome.kind, message: describe(outcome))
        }
    }

    static func describe(_ outcome: CommandOutcome) -> String {
        switch outcome {
        case .ok(let exit, _, _, _): return "exited \(exit)"
        case .connectFailed(let m), .timeout(let m), .authFailed(let m), .hostkeyUnknown(let m),
            .protocolError(let m), .noExitStatus(let m):
            return escapedForMessage(m)
        case .hostkeyMismatch(let expected, let presented):
            return "host key changed: expected \(expected), presented \(presented)"
        case .killedBySignal(let signal, _, _):
            return "killed by signal \(signal)"
        }
    }

    // MARK: - Host locks: one host run per host at a time, across rollouts

    func acquireHost(_ host: String, owner: Int64) async {
        if hostOwners[host] == nil || hostOwners[host] == owner {
            hostOwners[host] = owner
            return
        }
        await withCheckedContinuation { continuation in
            hostWaiters[host, default: []].append((owner, continuation))
        }
    }

    func releaseHost(_ host: String, owner: Int64) {
        guard hostOwners[host] == owner else { return }
        if var waiters = hostWaiters[host], !waiters.isEmpty {
            let next = waiters.removeFirst()
            hostWaiters[host] = waiters.isEmpty ? nil : waiters
            hostOwners[host] = next.owner
            next.continuation.resume()
        } else {
            hostOwners[host] = nil
        }
    }
}
