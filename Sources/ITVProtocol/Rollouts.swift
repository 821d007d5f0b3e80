// Rollouts on the wire. Raw values are the ones ITVCore persists (RolloutRecords.swift).

/// One rollout, without its waves and host runs.
public struct RolloutInfo: Hashable, Sendable, Codable {
    /// Where a rollout is in its life (`ITVCore.RolloutPhase`).
    public enum Phase: String, Hashable, Sendable, Codable, CaseIterable {
        case planned
        case waitingApproval = "waiting_approval"
        case running
        case baking
        case halted
        case paused
        case aborted
        case rollingBack = "rolling_back"
        case succeeded
        case rolledBack = "rolled_back"
        case failed
        /// Every wave is done; deferred (unreached) hosts are tried again until caught up or unreached.
        case catchingUp = "catching_up"
        /// Ended with hosts `unreached` (`reason` lists them).
        case incomplete

        /// A rollout in a final phase never changes again.
        public var isFinal: Bool { [.aborted, .succeeded, .rolledBack, .failed, .incomplete].contains(self) }
        /// The rollout waits for a person (approval, halt, pause).
        public var waitsForPerson: Bool { [.waitingApproval, .halted, .paused].contains(self) }
    }

    public var id: Int64
    public var procedure: String
    public var version: String
    public var phase: Phase
    /// Index (0-based) of the current wave; operators see `current_wave + 1`.
    public var currentWave: Int
    public var waveCount: Int
    public var planHash: String
    /// Why it halted, was aborted or is rolling back.
    public var reason: String?
    public var createdAt: Int64
    public var createdBy: String
    public var updatedAt: Int64
    /// Host runs per phase (raw value of `HostRunInfo.Phase` -> count).
    public var hostCounts: [String: Int]

    public init(
        id: Int64, procedure: String, version: String, phase: Phase, currentWave: Int, waveCount: Int,
        planHash: String, reason: String? = nil, createdAt: Int64, createdBy: String, updatedAt: Int64,
        hostCounts: [String: Int] = [:]
    ) {
        self.id = id
        self.procedure = procedure
        self.version = version
        self.phase = phase
        self.currentWave = currentWave
        self.waveCount = waveCount
        self.planHash = planHash
        self.reason = reason
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.updatedAt = updatedAt
        self.hostCounts = hostCounts
    }
}

/// Who lets a wave start (`ITVCore.ApprovalKind`).
public enum ApprovalKindInfo: String, Hashable, Sendable, Codable, CaseIterable {
    case auto
    case `operator`
    case window
}

/// One wave of a rollout.
public struct WaveInfo: Hashable, Sendable, Codable {
    /// Where a wave is (`ITVCore.WavePhase`).
    public enum Phase: String, Hashable, Sendable, Codable, CaseIterable {
        case pending
        case waitingApproval = "waiting_approval"
        case running
        case baking
        case done
        case halted
    }

    public var index: Int
    public var name: String
    public var approval: ApprovalKindInfo
    public var approvalsNeeded: Int
    /// Operator approvals given so far for this wave (for the current plan).
    public var approvalsGiven: Int
    public var bakeSeconds: Int64
    public var parallel: Int?
    public var phase: Phase
    public var startedAt: Int64?
    public var finishedAt: Int64?
    /// The wave's hosts, in plan order.
    public var hosts: [String]

    public init(
        index: Int, name: String, approval: ApprovalKindInfo, approvalsNeeded: Int, approvalsGiven: Int = 0,
        bakeSeconds: Int64, parallel: Int? = nil, phase: Phase, startedAt: Int64? = nil, finishedAt: Int64? = nil,
        hosts: [String]
    ) {
        self.index = index
        self.name = name
        self.approval = approval
        self.approvalsNeeded = approvalsNeeded
        self.approvalsGiven = approvalsGiven
        self.bakeSeconds = bakeSeconds
        self.parallel = parallel
        self.phase = phase
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.hosts = hosts
    }
}

/// Who or what let a wave start.
public struct ApprovalInfo: Hashable, Sendable, Codable {
    /// `ITVCore.ApprovalRecord.Source`.
    public enum Source: String, Hashable, Sendable, Codable, CaseIterable {
        case `operator`
        case window
        case auto
    }

    public var wave: Int
    public var source: Source
    public var user: String
    public var uid: UInt32
    public var comment: String?
    public var planHash: String
    public var at: Int64

    public init(
        wave: Int, source: Source, user: String, uid: UInt32, comment: String? = nil, planHash: String, at: Int64
    ) {
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
public struct HostRunInfo: Hashable, Sendable, Codable {
    /// `ITVCore.HostRunPhase`.
    public enum Phase: String, Hashable, Sendable, Codable, CaseIterable {
        case pending
        case running
        case succeeded
        case alreadyCurrent = "already_current"
        case failed
        case unknown
        case skipped
        case rollingBack = "rolling_back"
        case rolledBack = "rolled_back"
        case rollbackFailed = "rollback_failed"
        /// Not run now, tried again at `nextAttemptAt` (`deferReason` says why).
        case deferred
        /// Not reached before `reach_deadline`.
        case unreached
    }

    /// `ITVCore.HostStep`.
    public enum Step: String, Hashable, Sendable, Codable, CaseIterable {
        case detect
        /// Added with artifacts: the verified installer is put on the host before `install`.
        case stage
        case install
        case verify
        case rollback
        /// Added with reboots: the reboot command, the wait for the restarting host, the logged-on user check.
        case reboot
        case waitReboot = "wait_reboot"
        case userCheck = "user_check"

        /// The steps of the first version (frozen in `raw_values.json`).
        public static let known: [Step] = [.detect, .install, .verify, .rollback]
        /// Steps added since, oldest first (frozen in `host_steps_added.json`); clients must accept steps
        /// they do not know.
        public static let added: [Step] = [.stage, .reboot, .waitReboot, .userCheck]
    }

    public var host: String
    public var wave: Int
    public var phase: Phase
    public var step: Step?
    /// The version `detect` found before install (what `rollback` returns to).
    public var previous: String?
    /// `install` was sent at least once.
    public var changed: Bool
    public var installAttempts: Int
    /// Stable kind of the last error (`exit_status`, `timeout`, `hostkey_mismatch`, ...).
    public var errorKind: String?
    /// The last error in words. Host output: clients escape control characters before printing.
    public var error: String?
    public var updatedAt: Int64
    /// True when the installer said the host must restart and it has not: "reboot pending" (absent: no).
    public var rebootPending: Bool?
    /// Why the host is (or was last) deferred: `unreached`, `user_logged_on`, ... (absent: never deferred).
    public var deferReason: String?
    /// When the next attempt (a deferred host's retry, or a run after its Wake-on-LAN lead) may start.
    public var nextAttemptAt: Int64?
    /// When the host's first attempt started (`reach_deadline` counts from it).
    public var firstAttemptAt: Int64?
    /// How often the host was deferred (absent: never).
    public var deferrals: Int?
    /// Wake-on-LAN packets sent to the host for this rollout (absent: none).
    public var wakes: Int?

    public init(
        host: String, wave: Int, phase: Phase, step: Step? = nil, previous: String? = nil, changed: Bool = false,
        installAttempts: Int = 0, errorKind: String? = nil, error: String? = nil, updatedAt: Int64,
        rebootPending: Bool? = nil, deferReason: String? = nil, nextAttemptAt: Int64? = nil,
        firstAttemptAt: Int64? = nil, deferrals: Int? = nil, wakes: Int? = nil
    ) {
        self.rebootPending = rebootPending
        self.host = host
        self.wave = wave
        self.phase = phase
        self.step = step
        self.previous = previous
        self.changed = changed
        self.installAttempts = installAttempts
        self.errorKind = errorKind
        self.error = error
        self.updatedAt = updatedAt
        self.deferReason = deferReason
        self.nextAttemptAt = nextAttemptAt
        self.firstAttemptAt = firstAttemptAt
        self.deferrals = deferrals
        self.wakes = wakes
    }
}

/// `GET /v1/rollouts/{id}`: everything about one rollout.
public struct RolloutDetail: Hashable, Sendable, Codable {
    public var rollout: RolloutInfo
    public var waves: [WaveInfo]
    public var approvals: [ApprovalInfo]
    /// In plan order: wave by wave.
    public var hostRuns: [HostRunInfo]
    /// The verified installer of the rollout's release (`artifact:` playbooks), as part of the plan.
    public var artifact: PlanArtifactInfo?

    public init(
        rollout: RolloutInfo, waves: [WaveInfo], approvals: [ApprovalInfo], hostRuns: [HostRunInfo],
        artifact: PlanArtifactInfo? = nil
    ) {
        self.rollout = rollout
        self.waves = waves
        self.approvals = approvals
        self.hostRuns = hostRuns
        self.artifact = artifact
    }
}

/// One wave of a previewed plan.
public struct PlanWaveInfo: Hashable, Sendable, Codable {
    public var index: Int
    public var name: String
    public var approval: ApprovalKindInfo
    public var approvalsNeeded: Int
    public var bakeSeconds: Int64
    public var parallel: Int?
    public var hosts: [String]

    public init(
        index: Int, name: String, approval: ApprovalKindInfo, approvalsNeeded: Int, bakeSeconds: Int64,
        parallel: Int? = nil, hosts: [String]
    ) {
        self.index = index
        self.name = name
        self.approval = approval
        self.approvalsNeeded = approvalsNeeded
        self.bakeSeconds = bakeSeconds
        self.parallel = parallel
        self.hosts = hosts
    }
}

/// `GET /v1/rollouts/plan`: the waves a rollout would have, and the hash an approver approves.
public struct RolloutPlanResponse: Hashable, Sendable, Codable {
    public var procedure: String
    public var version: String
    public var planHash: String
    public var hostCount: Int
    public var waves: [PlanWaveInfo]
    /// The verified installer the hosts are given (`artifact:` playbooks); part of the plan hash.
    public var artifact: PlanArtifactInfo?

    public init(
        procedure: String, version: String, planHash: String, hostCount: Int, waves: [PlanWaveInfo],
        artifact: PlanArtifactInfo? = nil
    ) {
        self.procedure = procedure
        self.version = version
        self.planHash = planHash
        self.hostCount = hostCount
        self.waves = waves
        self.artifact = artifact
    }
}

/// `GET /v1/rollouts`.
public struct RolloutListResponse: Hashable, Sendable, Codable {
    /// Newest first.
    public var rollouts: [RolloutInfo]
    /// With `all`: set when older rollouts exist beyond this page: the `before` of the next page.
    public var nextBefore: Int64?

    public init(rollouts: [RolloutInfo], nextBefore: Int64? = nil) {
        self.rollouts = rollouts
        self.nextBefore = nextBefore
    }
}

/// The answer to a change of a rollout (start, approve, pause, resume, abort, rollback, retry, skip).
public struct RolloutActionResponse: Hashable, Sendable, Codable {
    /// The rollout after the change was committed.
    public var rollout: RolloutInfo
    /// What was done, in words ("wave 2 (pilot) approved by alice: 1 of 2 approvals").
    public var message: String

    public init(rollout: RolloutInfo, message: String) {
        self.rollout = rollout
        self.message = message
    }
}
