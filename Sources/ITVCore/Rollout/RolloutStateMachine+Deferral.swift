// Deferred hosts (switched off, unreachable): retries, deadlines, Wake-on-LAN, catching up.
//
// Rules, in the operators' words:
// - A host whose first contact fails before anything was sent to it (`connect_failed`, a connect
//   `timeout`) is `deferred`, not failed, and does not count against `max_failures`. Host-key problems
//   and `auth_failed` stay failures.
// - A wave completes when each of its hosts has settled or is deferred. Deferred hosts are tried again
//   every `retry_unreached` while the rollout may dispatch (running, baking, waiting for the next approval,
//   catching up; its window open or none), until `reach_deadline` after their first attempt; then they
//   settle as `unreached`.
// - More deferred and unreached hosts in the current wave than `max_unreached` halt the rollout: an
//   outage, not switched-off PCs.
// - After the last wave the rollout is `catching_up` while hosts are deferred; it ends `succeeded`, or
//   `incomplete` when some ended `unreached`.
// - A host with a Wake-on-LAN lead gets a magic packet `lead` before its first run in a wave and before
//   each retry; it is not dispatched before the lead has passed.
// The machine has no clock: times are `now` of the event; the engine sends `timerElapsed` at the time the
// machine asks for with `scheduleTimer`.
extension RolloutStateMachine {
    /// The kinds of a step that was not sent which mean "not reached" (a switched-off PC), not a fault.
    public static let unreachedKinds: Set<String> = ["connect_failed", "timeout"]

    /// Phases in which deferred hosts are retried (and woken).
    static let catchUpPhases: Set<RolloutPhase> = [.running, .baking, .waitingApproval, .catchingUp]

    /// Defers a host run: nothing was sent, it is tried again after `retry_unreached` (or settles as
    /// `unreached` when its deadline has passed).
    mutating func deferHost(_ host: String, reason: DeferReason, kind: String?, message: String) {
        guard let run = hostRun(host) else { return }
        let first = run.firstAttemptAt ?? now
        let retryAt = now + rollout.recipe.retryUnreachedMillis
        update(host) {
            $0.phase = .deferred
            $0.stepInFlight = false
            $0.deferReason = reason.rawValue
            $0.errorKind = kind
            $0.error = message
            $0.firstAttemptAt = first
            $0.nextAttemptAt = retryAt
            $0.deferrals += 1
        }
        emit(.releaseHost(host: host))
        if now >= first + rollout.recipe.reachDeadlineMillis {
            giveUp(host)
            return
        }
        emit(.announce(.hostDeferred(host: host, reason: reason, message: message, retryAt: retryAt)))
        checkUnreachedThreshold(wave: run.wave)
    }

    /// A deferred host whose `reach_deadline` passed settles as `unreached`.
    mutating func giveUp(_ host: String) {
        guard let run = hostRun(host), run.phase == .deferred else { return }
        let deadline = Self.describe(millis: rollout.recipe.reachDeadlineMillis)
        let last = run.error.map { ": last attempt: \($0)" } ?? ""
        update(host) {
            $0.phase = .unreached
            $0.nextAttemptAt = nil
            $0.error =
                "not reached within reach_deadline \(deadline) of its first attempt "
                + "(\($0.deferrals) attempt(s))\(last)"
        }
        emit(.releaseHost(host: host))
        emit(.announce(.hostUnreached(host: host, message: hostRun(host)?.error ?? "")))
    }

    /// Settles every deferred host whose deadline has passed (in any active phase).
    mutating func settleExpired() {
        guard !rollout.phase.isFinal else { return }
        let deadline = rollout.recipe.reachDeadlineMillis
        for run in snapshot.hostRuns where run.phase == .deferred {
            if let first = run.firstAttemptAt, now >= first + deadline { giveUp(run.host) }
        }
    }

    /// Whether deferred hosts may be retried (and hosts woken) now.
    var mayCatchUp: Bool { Self.catchUpPhases.contains(rollout.phase) && windowAllowsDispatch && !dispatchHeld }

    /// Sends the Wake-on-LAN packet for the host's next attempt; the attempt is `lead` later.
    mutating func wake(_ host: String, lead: Int64, attempt: EpochMillis) {
        let target = max(attempt, now + lead * 1000)
        update(host) {
            $0.nextAttemptAt = target
            $0.wokenFor = target
            $0.wakes += 1
        }
        emit(.wake(host: host))
        emit(.announce(.hostWoken(host: host, leadSeconds: lead)))
    }

    /// At a wave's start, hosts with a Wake-on-LAN lead are woken and run `lead` later.
    mutating func scheduleWakes(wave index: Int) {
        let at = now
        for run in hostRuns(inWave: index)
        where run.phase == .pending && run.wakeLeadSeconds != nil && run.nextAttemptAt == nil {
            update(run.host) { $0.nextAttemptAt = at }
        }
    }

    /// Halts when the current wave's deferred and unreached hosts exceed `max_unreached`.
    mutating func checkUnreachedThreshold(wave index: Int) {
        guard index == rollout.currentWave, snapshot.waves.indices.contains(index),
            [.running, .paused].contains(rollout.phase), !(rollout.phase == .paused && rollout.resumePhase == .halted)
        else { return }
        let runs = hostRuns(inWave: index)
        // A host deferred because a user was logged on is not a sign of an outage.
        let unreached = runs.filter {
            ($0.phase == .deferred && $0.deferReason != DeferReason.userLoggedOn.rawValue) || $0.phase == .unreached
        }.count
        let threshold = rollout.recipe.unreachedThreshold
        guard threshold.isExceeded(failures: unreached, hosts: runs.count) else { return }
        let wave = snapshot.waves[index]
        let reason =
            "wave \(index + 1) (\(wave.name)): \(unreached) of \(runs.count) hosts unreachable, more than "
            + "max_unreached \(threshold): most hosts are unreachable: network or site down?"
        snapshot.rollout.reason = reason
        halt(wave: index, reason: reason)
    }

    /// After the last wave: `catching_up` while hosts are deferred (or retried), then the end.
    mutating func finishOrCatchUp() {
        if snapshot.hostRuns.contains(where: { !$0.phase.isSettled }) {
            if rollout.phase != .catchingUp {
                snapshot.rollout.phase = .catchingUp
                emit(.announce(.catchingUp(deferred: snapshot.hostRuns.filter { $0.phase == .deferred }.count)))
            }
            return
        }
        let unreached = snapshot.hostRuns.filter { $0.phase == .unreached }.map(\.host)
        if unreached.isEmpty {
            finish(.succeeded)
        } else {
            let listed = unreached.prefix(20).joined(separator: ", ")
            let more = unreached.count > 20 ? " and \(unreached.count - 20) more" : ""
            snapshot.rollout.reason = "\(unreached.count) host(s) unreached: \(listed)\(more)"
            finish(.incomplete)
            emit(.announce(.incomplete(unreached: Array(unreached.prefix(20)), count: unreached.count)))
        }
    }

    /// The next time the rollout needs a `timerElapsed`: a retry, a wake, or a deadline. Nil when none.
    public var nextTimer: EpochMillis? {
        guard !rollout.phase.isFinal, rollout.phase != .rollingBack else { return nil }
        let deadline = rollout.recipe.reachDeadlineMillis
        let catchUp = Self.catchUpPhases.contains(rollout.phase) && windowAllowsDispatch
        var next: EpochMillis?
        func candidate(_ t: EpochMillis) { next = min(next ?? t, t) }
        for run in snapshot.hostRuns where run.phase == .deferred || run.phase == .pending {
            if run.phase == .deferred, let first = run.firstAttemptAt { candidate(max(first + deadline, now + 1)) }
            guard catchUp, let at = run.nextAttemptAt else { continue }
            if at > now { candidate(at) }
            if let lead = run.wakeLeadSeconds, run.wokenFor != at, at - lead * 1000 > now {
                candidate(at - lead * 1000)
            }
        }
        return next
    }

    static func describe(millis: EpochMillis) -> String { TimeSpan(seconds: millis / 1000).description }
}
