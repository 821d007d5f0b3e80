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
}

/// What the engine must do after persisting the state machine's new records.
public enum RolloutAction: Hashable, Sendable {
    /// Run `step` on `host` (render the recipe's template with version, previous, host and procedure).
    case runStep(host: String, step: HostStep)
    /// The host's run is settled: its SSH session may be closed.
    case releaseHost(host: String)
    /// Send `.bakeElapsed(wave)` after this many seconds on the monotonic clock.
    case scheduleBake(wave: Int, seconds: Int64)
    /// Remember what `detect` found on a host (drift), or what it runs now.
    case recordHostVersion(host: String, version: String?)
    /// Something operators and the journal should hear about.
    case announce(RolloutNotice)
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
}

/// Why an event cannot be applied. Never a trap.
public struct RolloutError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stable: `conflict` (not possible in this phase), `not_found` (no such host in the rollout),
    /// `plan_changed`, `already_approved`, `invalid`.
    public var kind: String
    public var message: String

    public init(_ kind: String, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
