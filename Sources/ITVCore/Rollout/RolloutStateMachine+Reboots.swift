// After `install`: what its exit code means (steps.exit_codes), retries, the user check, the reboot and the
// wait for the restarting host. Both the reboot and the wait are durable steps: their intent is committed
// before the engine acts, and recovery never sends a reboot twice.
extension RolloutStateMachine {
    /// How often `install` is sent again when its exit code means `retry`.
    public static let maxExitRetries = 3

    /// The backoff before the `n`th (1-based) resend of an `install` whose exit code means `retry`:
    /// 1, 2, 4 minutes.
    public static func exitRetryBackoff(_ n: Int) -> Int64 { 60 << Int64(max(0, min(n - 1, 4))) }

    /// The OS of a host; the engine fills `hostOS` from the inventory (Linux when unknown).
    func os(of host: String) -> OSFamily { hostOS[host] ?? .linux }

    /// `install` exited `code`: the recipe's map for the host's OS says what that means.
    mutating func installExited(_ run: HostRunRecord, code: Int32, stderr: String) {
        let host = run.host
        switch rollout.recipe.exitAction(code, os: os(of: host)) {
        case .ok:
            update(host) { $0.changed = true }
            startStep(host, .verify)
        case .rebootRequired:
            update(host) {
                $0.changed = true
                $0.rebootPending = true
            }
            emit(.recordReboot(host: host, pending: true))
            rebootDue(host)
        case .rebooted:
            let at = now
            update(host) {
                $0.changed = true
                $0.rebootPending = true
                $0.rebootStartedAt = at
                $0.rebootWentDown = false
            }
            emit(.recordReboot(host: host, pending: true))
            emit(.announce(.hostReboot(host: host, message: "install exited \(code): the installer restarts the host")))
            startStep(host, .waitReboot)
        case .retry:
            // The installer did nothing (another installation runs): `changed` stays as it was.
            guard run.exitRetries < Self.maxExitRetries else {
                update(host) { $0.changed = true }
                settle(
                    host, .failed, kind: "exit_status",
                    message: "install exited \(code) (retry) \(run.exitRetries + 1) times, "
                        + "sent at most \(Self.maxExitRetries + 1) times\(Self.tail(stderr))")
                return
            }
            let n = run.exitRetries + 1
            update(host) {
                $0.exitRetries = n
                $0.errorKind = "exit_status"
                $0.error = "install exited \(code) (retry): sent again in \(Self.exitRetryBackoff(n)) s"
            }
            emit(.scheduleRetry(host: host, seconds: Self.exitRetryBackoff(n)))
        case nil:
            update(host) { $0.changed = true }
            settle(host, .failed, kind: "exit_status", message: "install exited \(code)\(Self.tail(stderr))")
        }
    }

    /// The backoff of an `install` to send again has passed.
    mutating func retryDue(_ host: String) {
        guard let run = hostRun(host), run.phase == .running, run.step == .install, !run.stepInFlight,
            run.exitRetries > 0
        else { return }  // a timer from before a restart, an operator action or an abort: nothing to do
        startStep(host, .install)
    }

    /// The installer said the host must restart: `steps.reboot` decides.
    mutating func rebootDue(_ host: String) {
        switch rollout.recipe.rebootPolicy {
        case .never: startStep(host, .verify)
        case .ifRequired: startStep(host, .reboot)
        case .ifRequiredAndNoUser: startStep(host, .userCheck)
        }
    }

    mutating func userCheckFinished(_ run: HostRunRecord, result: StepResult) {
        let host = run.host
        switch Self.usersLoggedOn(result) {
        case .some(let users) where users.isEmpty:
            startStep(host, .reboot)
        case .some(let users):
            // Nobody is restarted under a working user: the host is deferred ("deferred (user logged on)")
            // and tried again like an unreached host, from the user check (its install is done).
            deferHost(
                host, reason: .userLoggedOn, kind: "user_logged_on",
                message: "not restarted: logged on: \(users.prefix(5).joined(separator: ", "))")
        case .none:
            update(host) {
                $0.errorKind = "user_check_failed"
                $0.error = "not restarted: the user check did not tell who is logged on"
            }
            startStep(host, .verify)
        }
    }

    /// Who a user check says is logged on; nil when it cannot be told. `quser` exits 1 with
    /// "No User exists for *" when nobody is.
    static func usersLoggedOn(_ result: StepResult) -> [String]? {
        switch result {
        case .exited(0, let stdout, _):
            return RebootSpec.loggedOnUsers(stdout)
        case .exited(_, let stdout, let stderr):
            return (stdout + stderr).contains("No User exists") ? [] : nil
        case .notRun, .unknown:
            return nil
        }
    }

    mutating func rebootFinished(_ run: HostRunRecord, result: StepResult) {
        let host = run.host
        switch result {
        case .exited(0, _, _), .unknown:
            // A restart often ends the session before the command reports: either way the host restarts.
            emit(.announce(.hostReboot(host: host, message: "reboot command sent: waiting for the host")))
            startStep(host, .waitReboot)
        case .exited(let code, _, let stderr):
            update(host) { $0.rebootStartedAt = nil }
            settle(host, .failed, kind: "reboot_failed", message: "reboot command exited \(code)\(Self.tail(stderr))")
        case .notRun(let kind, let message):
            update(host) { $0.rebootStartedAt = nil }
            settle(host, .failed, kind: kind, message: "reboot command not sent: \(message)")
        }
    }

    mutating func waitRebootFinished(_ run: HostRunRecord, result: StepResult) {
        let host = run.host
        switch result {
        case .exited:
            update(host) {
                $0.rebootPending = false
                $0.rebootStartedAt = nil
                $0.rebootWentDown = false
            }
            emit(.recordReboot(host: host, pending: false))
            emit(.announce(.hostReboot(host: host, message: "the host is back after its restart")))
            startStep(host, .verify)
        case .notRun(let kind, let message), .unknown(let kind, let message):
            settle(host, .failed, kind: kind, message: message)
        }
    }

    /// The engine saw the restarting host unreachable.
    mutating func rebootWentDown(_ host: String) {
        guard let run = hostRun(host), run.step == .waitReboot, run.stepInFlight, !run.rebootWentDown else { return }
        update(host) { $0.rebootWentDown = true }
    }
}
