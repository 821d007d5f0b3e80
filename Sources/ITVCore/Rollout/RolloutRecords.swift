// The persisted vocabulary of rollouts: what the state machine decides on, what the store keeps, and
// what the control API shows (mapped to wire types). Raw values are stable: they are stored and sent.

/// Milliseconds since the Unix epoch (wall clock; passed in, never read here).
public typealias EpochMillis = Int64

/// Where a rollout is in its life.
public enum RolloutPhase: String, Hashable, Sendable, Codable, CaseIterable {
    /// Created, nothing decided yet.
    case planned
    /// The current wave waits for its approval (an operator, or its patch window).
    case waitingApproval = "waiting_approval"
    /// The current wave's host runs are being dispatched or are running.
    case running
    /// The current wave finished and must stay healthy for its `bake` time.
    case baking
    /// Too many failures: nothing new is dispatched until an operator acts.
    case halted
    /// An operator paused it: nothing new is dispatched until resume.
    case paused
    /// An operator aborted it: nothing new is ever dispatched (terminal once in-flight runs end).
    case aborted
    /// `rollback` runs on every host the rollout changed.
    case rollingBack = "rolling_back"
    case succeeded
    case rolledBack = "rolled_back"
    /// The rollback could not restore every host.
    case failed
    /// Every wave is done, but deferred hosts (unreached, switched off) remain: they are tried again every
    /// `retry_unreached` until each is current or `unreached`.
    case catchingUp = "catching_up"
    /// Every host settled, some as `unreached`: the rollout did not reach them before `reach_deadline`.
    case incomplete

    /// A rollout in a final phase never changes again.
    public var isFinal: Bool { [.aborted, .succeeded, .rolledBack, .failed, .incomplete].contains(self) }

    /// A phase in which the rollout waits for a person (approval, halt, pause).
    public var waitsForPerson: Bool { [.waitingApproval, .halted, .paused].contains(self) }
}

/// Where a wave is.
public enum WavePhase: String, Hashable, Sendable, Codable, CaseIterable {
    case pending
    case waitingApproval = "waiting_approval"
    case running
    case baking
    case done
    case halted
}

/// Where one host of a rollout is.
public enum HostRunPhase: String, Hashable, Sendable, Codable, CaseIterable {
    case pending
    case running
    case succeeded
    /// `detect` found the target version: nothing was installed.
    case alreadyCurrent = "already_current"
    case failed
    /// A step was sent but its outcome could not be learned (crash, dropped connection, timeout), and
    /// `detect` could not settle it: an operator must `retry` or `skip`.
    case unknown
    case skipped
    case rollingBack = "rolling_back"
    case rolledBack = "rolled_back"
    case rollbackFailed = "rollback_failed"
    /// Not run now, tried again later (`deferReason` says why: `unreached`, a user logged on, ...). Nothing
    /// was sent to the host. Not settled, and not a failure: a wave completes without its deferred hosts.
    case deferred
    /// Deferred until `reach_deadline` passed without reaching it (final unless an operator retries).
    case unreached

    /// The host run will not change again unless an operator acts (or a rollback starts).
    public var isSettled: Bool { ![.pending, .running, .rollingBack, .deferred].contains(self) }

    /// Settled, or deferred to a later attempt: what a wave waits for before it completes.
    public var isSettledOrDeferred: Bool { isSettled || self == .deferred }
}

/// The steps of a host run.
public enum HostStep: String, Hashable, Sendable, Codable, CaseIterable {
    case detect
    /// Puts the rollout's artifact on the host (SFTP under a temporary name, hash checked on the host,
    /// renamed); only in rollouts whose plan has an artifact. Safe to repeat.
    case stage
    case install
    case verify
    case rollback
    /// `steps.reboot_command`, after an install that needs a restart. Sent at most once per host run.
    case reboot
    /// Waiting for a restarting host: reconnect with backoff until it went away and came back, at most
    /// `steps.reboot_timeout` after the restart began. Sends no command.
    case waitReboot = "wait_reboot"
    /// `steps.user_check`: who is logged on, before a reboot with `if_required_and_no_user`.
    case userCheck = "user_check"
}

/// One rollout: a procedure going to one version.
public struct RolloutRecord: Hashable, Sendable, Codable {
    public var id: Int64
    public var procedure: String
    public var version: String
    public var phase: RolloutPhase
    /// The phase to return to on `resume` (while paused).
    public var resumePhase: RolloutPhase?
    /// Index of the current wave.
    public var currentWave: Int
    /// The plan the waves were made from; approvals must carry it.
    public var planHash: String
    public var recipe: RolloutRecipe
    /// Why it halted, was aborted or is rolling back.
    public var reason: String?
    public var createdAt: EpochMillis
    public var createdBy: String
    public var updatedAt: EpochMillis

    public init(
        id: Int64, procedure: String, version: String, phase: RolloutPhase = .planned, resumePhase: RolloutPhase? = nil,
        currentWave: Int = 0, planHash: String, recipe: RolloutRecipe, reason: String? = nil,
        createdAt: EpochMillis, createdBy: String, updatedAt: EpochMillis
    ) {
        self.id = id
        self.procedure = procedure
        self.version = version
        self.phase = phase
        self.resumePhase = resumePhase
        self.currentWave = currentWave
        self.planHash = planHash
        self.recipe = recipe
        self.reason = reason
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.updatedAt = updatedAt
    }
}

/// One wave of a rollout.
public struct WaveRecord: Hashable, Sendable, Codable {
    public var rolloutID: Int64
    public var index: Int
    public var name: String
    public var approval: ApprovalKind
    public var approvalsNeeded: Int
    public var bakeSeconds: Int64
    /// Host runs of this wave that may run at once (nil: only the daemon's global cap).
    public var parallel: Int?
    public var phase: WavePhase
    public var startedAt: EpochMillis?
    public var finishedAt: EpochMillis?

    public init(
        rolloutID: Int64, index: Int, name: String, approval: ApprovalKind, approvalsNeeded: Int, bakeSeconds: Int64,
        parallel: Int?, phase: WavePhase = .pending, startedAt: EpochMillis? = nil, finishedAt: EpochMillis? = nil
    ) {
        self.rolloutID = rolloutID
        self.index = index
        self.name = name
        self.approval = approval
        self.approvalsNeeded = approvalsNeeded
        self.bakeSeconds = bakeSeconds
        self.parallel = parallel
        self.phase = phase
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// Who or what let a wave start.
public struct ApprovalRecord: Hashable, Sendable, Codable {
    public enum Source: String, Hashable, Sendable, Codable {
        case `operator`
        case window
        case auto
    }

    public var rolloutID: Int64
    public var wave: Int
    public var source: Source
    public var user: String
    public var uid: UInt32
    public var comment: String?
    /// The plan the approver saw; an approval for another plan does not count.
    public var planHash: String
    public var at: EpochMillis

    public init(
        rolloutID: Int64, wave: Int, source: Source, user: String, uid: UInt32, comment: String?, planHash: String,
        at: EpochMillis
    ) {
        self.rolloutID = rolloutID
        self.wave = wave
        self.source = source
        self.user = user
        self.uid = uid
        self.comment = comment
        self.planHash = planHash
        self.at = at
    }
}

/// One host of a rollout.
public struct HostRunRecord: Hashable, Sendable, Codable {
    public var rolloutID: Int64
    public var host: String
    public var wave: Int
    public var phase: HostRunPhase
    /// The step being run, or last run.
    public var step: HostStep?
    /// The step's command was (or may have been) sent and its outcome is not recorded yet. Committed
    /// before the command is sent: after a crash, this is what tells "maybe ran" from "never ran".
    public var stepInFlight: Bool
    /// What `detect` found before install: the version `rollback` returns to.
    public var previous: String?
    /// `install` was sent at least once: the host may have been changed.
    public var changed: Bool
    /// How often `install` was sent.
    public var installAttempts: Int
    /// Stable kind of the last error (`exit_status`, `timeout`, `hostkey_mismatch`, ...).
    public var errorKind: String?
    /// The last error, in words (host output escaped and cut).
    public var error: String?
    public var updatedAt: EpochMillis
    /// The installer said the host must restart, and it has not (yet): "reboot pending".
    public var rebootPending: Bool = false
    /// How often `install` was sent again because its exit code meant `retry`.
    public var exitRetries: Int = 0
    /// How often `stage` was sent since the last one whose outcome was learned (a restart that finds one in
    /// flight sends it again and counts it): at ``RolloutStateMachine/maxStageAttempts`` the host fails.
    /// Persisted, so that a host that always drops mid-stage is not retried forever across restarts.
    public var stageAttempts: Int = 0
    /// When the restart began (the reboot command was sent, or the installer restarted the host): the wait
    /// for the host ends `reboot_timeout` after it, also across a daemon restart.
    public var rebootStartedAt: EpochMillis?
    /// The restarting host was seen unreachable: the next connection that works means it is back.
    public var rebootWentDown: Bool = false
    /// Why the host is (or was last) deferred: `unreached` (first contact failed), `user_logged_on`, ...
    public var deferReason: String?
    /// When the host's first attempt in this rollout started (`reach_deadline` counts from it).
    public var firstAttemptAt: EpochMillis?
    /// The host is not dispatched before this time (the next retry of a deferred host, or the end of the
    /// Wake-on-LAN lead before its first run).
    public var nextAttemptAt: EpochMillis?
    /// How often the host was deferred.
    public var deferrals: Int
    /// Seconds between the Wake-on-LAN packet and the attempt it wakes the host for; nil: the host has no
    /// MAC address or no `wake_on_lan` applies (frozen when the rollout is made).
    public var wakeLeadSeconds: Int64?
    /// The `nextAttemptAt` the last Wake-on-LAN packet was sent for (one packet per attempt).
    public var wokenFor: EpochMillis?
    /// Wake-on-LAN packets sent to the host.
    public var wakes: Int

    public init(
        rolloutID: Int64, host: String, wave: Int, phase: HostRunPhase = .pending, step: HostStep? = nil,
        stepInFlight: Bool = false, previous: String? = nil, changed: Bool = false, installAttempts: Int = 0,
        errorKind: String? = nil, error: String? = nil, updatedAt: EpochMillis, deferReason: String? = nil,
        firstAttemptAt: EpochMillis? = nil, nextAttemptAt: EpochMillis? = nil, deferrals: Int = 0,
        wakeLeadSeconds: Int64? = nil, wokenFor: EpochMillis? = nil, wakes: Int = 0
    ) {
        self.rolloutID = rolloutID
        self.host = host
        self.wave = wave
        self.phase = phase
        self.step = step
        self.stepInFlight = stepInFlight
        self.previous = previous
        self.changed = changed
        self.installAttempts = installAttempts
        self.errorKind = errorKind
        self.error = error
        self.updatedAt = updatedAt
        self.deferReason = deferReason
        self.firstAttemptAt = firstAttemptAt
        self.nextAttemptAt = nextAttemptAt
        self.deferrals = deferrals
        self.wakeLeadSeconds = wakeLeadSeconds
        self.wokenFor = wokenFor
        self.wakes = wakes
    }
}

/// Why a host run is deferred (`HostRunRecord.deferReason`). Raw values are stored and sent.
public enum DeferReason: String, Hashable, Sendable, Codable, CaseIterable {
    /// The first contact failed before anything was sent (connection refused, timeout, no route).
    case unreached
    /// A user is logged on and the reboot policy waits for nobody to be.
    case userLoggedOn = "user_logged_on"
}

/// Everything persisted about one rollout: the state machine's whole state.
public struct RolloutSnapshot: Hashable, Sendable, Codable {
    public var rollout: RolloutRecord
    public var waves: [WaveRecord]
    public var approvals: [ApprovalRecord]
    /// In plan order: wave by wave, each wave's hosts in plan order.
    public var hostRuns: [HostRunRecord]

    public init(rollout: RolloutRecord, waves: [WaveRecord], approvals: [ApprovalRecord], hostRuns: [HostRunRecord]) {
        self.rollout = rollout
        self.waves = waves
        self.approvals = approvals
        self.hostRuns = hostRuns
    }
}
