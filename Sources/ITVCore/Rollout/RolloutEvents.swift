/// How running one step on a host ended, as the engine reports it.
public enum StepResult: Hashable, Sendable {
    /// The command ran to completion and reported an exit status.
    case exited(code: Int32, stdout: String, stderr: String)
    /// Nothing was sent: connect, host key or authentication failed (kind says which).
    case notRun(kind: String, message: String)
    /// The command was (or may have been) sent, but its outcome could not be learned: timeout, dropped
    /// connection, killed, no exit status, or the daemon stopped.
    case unknown(kind: String, message: String)
}

/// Something that happened to a rollout: what the state machine is fed. (Not ITVProtocol's `RolloutEvent`,
/// which is what `rollout watch` streams to operators.)
public enum RolloutInput: Hashable, Sendable {
    /// Move from `planned` to the first wave.
    case start
    /// An operator approves the wave that waits.
    case approve(ApprovalRecord)
    /// The rollout's patch window opened or closed (also sent once after load with the current state).
    case windowChanged(open: Bool, by: String)
    /// The hosts whose tenant's patch windows are all closed now (hosts of tenants without `windows:` are never
    /// held): they are not dispatched until a later event leaves them out. Sent after load and whenever a
    /// window or the inventory changes.
    case tenantWindowsChanged(held: Set<String>)
    /// A step the state machine asked for ended.
    case stepFinished(host: String, step: HostStep, result: StepResult)
    /// A step whose intent was recorded was not sent after all (the daemon is stopping): forget the intent.
    case stepNotSent(host: String, step: HostStep)
    /// The bake time of a wave has passed (measured by the engine on the monotonic clock).
    case bakeElapsed(wave: Int)
    case pause(by: String)
    case resume(by: String)
    case abort(by: String, reason: String)
    case rollback(by: String, reason: String)
    /// Run a failed or unknown host again, from `detect`.
    case retry(host: String, by: String)
    /// Give up on a failed, unknown or pending host: it no longer counts as a failure.
    case skip(host: String, by: String)
    /// The daemon restarted: settle what was in flight.
    case recover
    /// The playbook or inventory changed what a new plan of this rollout would be.
    case planChanged(hash: String)
    /// The backoff after an `install` whose exit code meant `retry` has passed (from `scheduleRetry`).
    case retryDue(host: String)
    /// While waiting for a restarting host, the engine found it unreachable (it went down).
    case rebootWentDown(host: String)
    /// A time the rollout asked for (`scheduleTimer`) has come: deferred hosts due for a retry or a wake,
    /// or past their `reach_deadline`. Harmless at any other time.
    case timerElapsed
}

/// What the engine must do after persisting the state machine's new records.
public enum RolloutAction: Hashable, Sendable {
    /// Run `step` on `host` (render the recipe's template with version, previous, host and procedure).
    case runStep(host: String, step: HostStep)
    /// The host's run is settled: its SSH session may be closed.
    case releaseHost(host: String)
    /// Send `.bakeElapsed(wave)` after this many seconds on the monotonic clock.
    case scheduleBake(wave: Int, seconds: Int64)
    /// Send `.retryDue(host)` after this many seconds on the monotonic clock.
    case scheduleRetry(host: String, seconds: Int64)
    /// Remember what `detect` found on a host (drift), or what it runs now.
    case recordHostVersion(host: String, version: String?)
    /// Remember that the host must restart for this procedure (pending), or that it restarted (not pending).
    case recordReboot(host: String, pending: Bool)
    /// Something operators and the journal should hear about.
    case announce(RolloutNotice)
    /// Send `.timerElapsed` at this wall-clock time (or at once when it has passed). Asked for again after
    /// every event that changes the rollout's next due time, and on `recover`; an earlier timer still armed
    /// makes a later one redundant (the event that it sends asks for the next).
    case scheduleTimer(at: EpochMillis)
    /// Send the Wake-on-LAN magic packet to the host (its MAC from the inventory, the `wake_on_lan` address).
    case wake(host: String)
}

/// Notable moments of a rollout, for the journal and for `rollout watch`.
public enum RolloutNotice: Hashable, Sendable {
    case waveWaiting(wave: Int, approval: ApprovalKind)
    case waveApproved(wave: Int, by: String, complete: Bool)
    case waveStarted(wave: Int)
    case waveDone(wave: Int)
    case hostSucceeded(host: String, alreadyCurrent: Bool)
    case hostFailed(host: String, kind: String, message: String)
    case hostUnknown(host: String, message: String)
    case hostRolledBack(host: String, ok: Bool, message: String?)
    case halted(reason: String)
    case paused
    case resumed
    case aborted(reason: String)
    case rollingBack(reason: String)
    case succeeded
    case rolledBack
    case failed(reason: String)
    case hostileOutput(host: String, message: String)
    /// A host restarts for its install (the reboot command was sent, or the installer restarts it), or came
    /// back from that restart.
    case hostReboot(host: String, message: String)
    /// The host is deferred (not a failure) and tried again at `retryAt`.
    case hostDeferred(host: String, reason: DeferReason, message: String, retryAt: EpochMillis)
    /// A deferred host passed its `reach_deadline`: it settles as unreached.
    case hostUnreached(host: String, message: String)
    /// A Wake-on-LAN packet went to the host, `leadSeconds` before its attempt.
    case hostWoken(host: String, leadSeconds: Int64)
    /// Every wave is done; deferred hosts remain and are caught up.
    case catchingUp(deferred: Int)
    /// The rollout ended with unreached hosts (listed, at most 20, then a count).
    case incomplete(unreached: [String], count: Int)
}

/// Why an event cannot be applied. Never a trap.
public struct RolloutError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `.conflict` (not possible in this phase), `.notFound` (no such host in the rollout), `.planChanged`,
    /// `.alreadyApproved`, `.invalid`.
    public var kind: ITVErrorKind
    public var message: String

    public init(_ kind: ITVErrorKind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
