import ITVCore
import Logging

// The wait for a restarting host (HostStep.waitReboot): a durable step that sends no command.
extension RolloutEngine {
    /// First pause between connection attempts to a restarting host; doubled up to `rebootPollMax`.
    static let rebootPollFirst = 1.0
    static let rebootPollMax = 10.0

    /// Waits until the host went away (a connection failed) and came back (a connection works), at most
    /// `reboot_timeout` after the restart began (`rebootStartedAt`, persisted: a daemon restart resumes the
    /// same wait with the same deadline). Reports `.exited(0)` when the host is back, `.unknown(reboot_timeout)`
    /// when the deadline passed, `.notRun` for a host-key problem (a host must never be trusted because it
    /// restarted), nil when the daemon stops meanwhile (the wait resumes after the restart).
    func waitForReboot(rollout id: Int64, host: Host, run: HostRunRecord) async -> StepResult? {
        let name = host.name
        guard let machine = machines[id] else {
            return .notRun(kind: "not_found", message: "rollout \(id) is not active")
        }
        let timeout = machine.rollout.recipe.rebootTimeout
        let deadline = (run.rebootStartedAt ?? clock.now()) + timeout * 1000
        var wentDown = run.rebootWentDown
        let key = SessionKey(rollout: id, host: name)
        if let old = sessions.removeValue(forKey: key) {
            // The connection of the install does not survive the restart.
            workContinuation.yield(.closeSession(old))
        }
        await acquireHost(name, owner: id)
        var pause = Self.rebootPollFirst
        while true {
            // Short sleeps, so that a graceful stop is not held by a long pause.
            var slept = 0.0
            while slept < pause {
                if stopping || storeFailure != nil { return nil }
                let left = Double(deadline - clock.now()) / 1000
                if left <= 0 { break }
                let slice = min(0.25, pause - slept, left)
                do { try await clock.sleep(seconds: slice) } catch { return nil }
                slept += slice
            }
            if stopping || storeFailure != nil { return nil }
            if clock.now() >= deadline {
                return .unknown(
                    kind: "reboot_timeout",
                    message: wentDown
                        ? "the host went down for its restart and did not come back within \(timeout) s"
                        : "the host did not restart within \(timeout) s (it never went away)")
            }
            switch await executor.connect(to: RemoteHost(host)) {
            case .success(let session):
                if wentDown {
                    if stopping || storeFailure != nil {
                        await session.close()
                        return nil
                    }
                    sessions[key] = session  // verify runs on it
                    return .exited(code: 0, stdout: "", stderr: "")
                }
                await session.close()  // still up: the restart has not begun yet
            case .failure(let error):
                switch error.outcome {
                case .hostkeyMismatch, .hostkeyUnknown:
                    return .notRun(kind: error.outcome.kind, message: Self.describe(error.outcome))
                default:
                    if !wentDown {
                        wentDown = true
                        logger.info(
                            "host \(name) went down for its restart",
                            metadata: ["rollout": "\(id)", "host": "\(name)"])
                        _ = try? await apply(id, .rebootWentDown(host: name))
                    }
                }
            }
            pause = min(pause * 2, Self.rebootPollMax)
        }
    }
}
