import ITVCore
import ITVProtocol

// From the persisted records (ITVCore) to the wire types (ITVProtocol). The switches are exhaustive, so a
// phase added to ITVCore does not compile until the wire has it too; a test checks the raw values agree.

extension RolloutInfo.Phase {
    public init(_ phase: RolloutPhase) {
        switch phase {
        case .planned: self = .planned
        case .waitingApproval: self = .waitingApproval
        case .running: self = .running
        case .baking: self = .baking
        case .halted: self = .halted
        case .paused: self = .paused
        case .aborted: self = .aborted
        case .rollingBack: self = .rollingBack
        case .succeeded: self = .succeeded
        case .rolledBack: self = .rolledBack
        case .failed: self = .failed
        case .catchingUp: self = .catchingUp
        case .incomplete: self = .incomplete
        }
    }
}

extension WaveInfo.Phase {
    public init(_ phase: WavePhase) {
        switch phase {
        case .pending: self = .pending
        case .waitingApproval: self = .waitingApproval
        case .running: self = .running
        case .baking: self = .baking
        case .done: self = .done
        case .halted: self = .halted
        }
    }
}

extension HostRunInfo.Phase {
    public init(_ phase: HostRunPhase) {
        switch phase {
        case .pending: self = .pending
        case .running: self = .running
        case .succeeded: self = .succeeded
        case .alreadyCurrent: self = .alreadyCurrent
        case .failed: self = .failed
        case .unknown: self = .unknown
        case .skipped: self = .skipped
        case .rollingBack: self = .rollingBack
        case .rolledBack: self = .rolledBack
        case .rollbackFailed: self = .rollbackFailed
        case .deferred: self = .deferred
        case .unreached: self = .unreached
        }
    }
}

extension HostRunInfo.Step {
    public init(_ step: HostStep) {
        switch step {
        case .detect: self = .detect
        case .stage: self = .stage
        case .install: self = .install
        case .verify: self = .verify
        case .rollback: self = .rollback
        case .reboot: self = .reboot
        case .waitReboot: self = .waitReboot
        case .userCheck: self = .userCheck
        }
    }
}

extension ApprovalKindInfo {
    public init(_ kind: ApprovalKind) {
        switch kind {
        case .auto: self = .auto
        case .operator: self = .operator
        case .window: self = .window
        }
    }
}

extension ApprovalInfo.Source {
    public init(_ source: ApprovalRecord.Source) {
        switch source {
        case .operator: self = .operator
        case .window: self = .window
        case .auto: self = .auto
        }
    }
}

extension RolloutInfo {
    /// A rollout without its details; `hostRuns` gives the per-phase counts.
    public init(_ record: RolloutRecord, waveCount: Int, hostRuns: [HostRunRecord]) {
        var counts: [String: Int] = [:]
        for run in hostRuns { counts[run.phase.rawValue, default: 0] += 1 }
        self.init(
            id: record.id, procedure: record.procedure, version: record.version, phase: Phase(record.phase),
            currentWave: record.currentWave, waveCount: waveCount, planHash: record.planHash, reason: record.reason,
            createdAt: record.createdAt, createdBy: record.createdBy, updatedAt: record.updatedAt, hostCounts: counts)
    }
}

extension WaveInfo {
    /// `approvals` are the rollout's; only operator approvals of this wave for `planHash` are counted.
    public init(_ record: WaveRecord, hosts: [String], approvals: [ApprovalRecord], planHash: String) {
        let given = Set(
            approvals.filter { $0.wave == record.index && $0.source == .operator && $0.planHash == planHash }
                .map(\.uid)
        ).count
        self.init(
            index: record.index, name: record.name, approval: ApprovalKindInfo(record.approval),
            approvalsNeeded: record.approvalsNeeded, approvalsGiven: given, bakeSeconds: record.bakeSeconds,
            parallel: record.parallel, phase: Phase(record.phase), startedAt: record.startedAt,
            finishedAt: record.finishedAt, hosts: hosts)
    }
}

extension ApprovalInfo {
    public init(_ record: ApprovalRecord) {
        self.init(
            wave: record.wave, source: Source(record.source), user: record.user, uid: record.uid,
            comment: record.comment, planHash: record.planHash, at: record.at)
    }
}

extension HostRunInfo {
    public init(_ record: HostRunRecord) {
        self.init(
            host: record.host, wave: record.wave, phase: Phase(record.phase), step: record.step.map(Step.init),
            previous: record.previous, changed: record.changed, installAttempts: record.installAttempts,
            errorKind: record.errorKind, error: record.error, updatedAt: record.updatedAt,
            rebootPending: record.rebootPending ? true : nil,
            deferReason: record.deferReason,
            nextAttemptAt: [.deferred, .pending].contains(record.phase) ? record.nextAttemptAt : nil,
            firstAttemptAt: record.deferrals > 0 ? record.firstAttemptAt : nil,
            deferrals: record.deferrals > 0 ? record.deferrals : nil, wakes: record.wakes > 0 ? record.wakes : nil)
    }
}

extension RolloutDetail {
    public init(_ snapshot: RolloutSnapshot) {
        let hostsByWave = Dictionary(grouping: snapshot.hostRuns, by: \.wave).mapValues { $0.map(\.host) }
        self.init(
            rollout: RolloutInfo(snapshot.rollout, waveCount: snapshot.waves.count, hostRuns: snapshot.hostRuns),
            waves: snapshot.waves.map {
                WaveInfo(
                    $0, hosts: hostsByWave[$0.index] ?? [], approvals: snapshot.approvals,
                    planHash: snapshot.rollout.planHash)
            },
            approvals: snapshot.approvals.map(ApprovalInfo.init),
            hostRuns: snapshot.hostRuns.map(HostRunInfo.init))
    }
}

extension PlanWaveInfo {
    public init(_ wave: PlannedWave) {
        self.init(
            index: wave.index, name: wave.spec.name, approval: ApprovalKindInfo(wave.spec.approval),
            approvalsNeeded: wave.spec.approval == .operator ? wave.spec.approvals : 0,
            bakeSeconds: wave.spec.bake.seconds, parallel: wave.spec.parallel, hosts: wave.hosts)
    }
}

extension RolloutPlanResponse {
    public init(_ plan: RolloutPlan) {
        self.init(
            procedure: plan.procedure, version: plan.version, planHash: plan.hash, hostCount: plan.hostCount,
            waves: plan.waves.map(PlanWaveInfo.init), artifact: plan.artifact.map(PlanArtifactInfo.init))
    }
}

extension PlanArtifactInfo {
    public init(_ artifact: PlannedArtifact) {
        self.init(name: artifact.name, size: artifact.size, sha256: artifact.sha256)
    }
}

extension ArtifactInfo {
    public init(_ r: ArtifactRecord, cached: Bool, keptBecause: String? = nil) {
        self.init(
            procedure: r.procedure, version: r.version, url: r.url, state: r.state.rawValue, name: r.name,
            size: r.size, sha256: r.sha256, verifiedBy: r.verifiedBy, rejection: r.rejection, message: r.message,
            expectedSha256: r.expected, actualSha256: r.actual, cached: cached, recordedAt: r.at,
            keptBecause: keptBecause)
    }
}

extension AuditEntry {
    public init(_ record: AuditRecord) {
        self.init(
            id: record.id, at: record.at, user: record.user, uid: record.uid, action: record.action,
            target: record.target, comment: record.comment, outcome: record.outcome)
    }
}

extension ReleaseInfo {
    public init(_ record: ReleaseRecord, artifact: ArtifactRecord? = nil) {
        self.init(
            procedure: record.procedure, version: record.version, firstSeenAt: record.firstSeen,
            feedUrl: record.feedURL, artifactState: artifact?.state.rawValue, artifactRejection: artifact?.rejection,
            artifactSha256: artifact?.sha256)
    }
}

extension WindowInfo {
    public init(_ spec: WindowSpec, record: WindowRecord?, now: EpochMillis) {
        let open = record?.isOpen(at: now) ?? false
        self.init(
            name: spec.name, open: open, openUntil: open ? record?.openUntil : nil,
            defaultDurationSeconds: spec.duration.seconds, changedBy: record?.changedBy, changedAt: record?.changedAt)
    }
}
