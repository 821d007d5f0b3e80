import ITVCore

/// One change to persist. Records are upserted by their natural key (rollout id; rollout id + wave index;
/// rollout id + host; host + procedure; window name; procedure + version); audit entries and approvals are
/// appended.
public enum StoreChange: Hashable, Sendable {
    case rollout(RolloutRecord)
    case wave(WaveRecord)
    case approval(ApprovalRecord)
    case hostRun(HostRunRecord)
    case audit(AuditRecord)
    case release(ReleaseRecord)
    case hostVersion(HostVersionRecord)
    /// The host must restart for a procedure ("reboot pending").
    case rebootPending(PendingReboot)
    /// The host restarted through itvd: nothing is pending on it any more.
    case rebootDone(host: String)
    case window(WindowRecord)
    /// Conditional-GET and failure state of a feed, opaque to the store (JSON).
    case feedState(procedure: String, json: String)
    /// A notification for one sink, to be delivered after the commit (`OutboxStore`).
    case outbox(OutboxRecord)
    /// The outcome of a delivery attempt of outbox entry `id` to `sink`.
    case outboxAttempt(id: String, sink: String, OutboxOutcome)
    /// The artifact of a release, verified or rejected (upserted by procedure + version).
    case artifact(ArtifactRecord)
}

/// Why the store cannot do what was asked.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `.locked` (another itvd uses the state directory), `.missing` and `.empty` (a store existed and
    /// its file is gone or empty), `.corrupt`, `.unreadable`, `.replaced` (not the store created in that
    /// directory), `.tooNew` (written by a newer itvd), `.initRefused` (`--init-store` of a healthy store),
    /// `.conflict` (a change that would make a second active rollout of a procedure: the caller's request is
    /// refused, the store is fine), `.constraintBroken` (a change that breaks another constraint, e.g. a host
    /// run of a rollout that is not stored), `.io`.
    public var kind: ITVErrorKind
    public var message: String

    public init(kind: ITVErrorKind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// The port through which the engine persists everything (SQLite in production, in memory in tests).
/// "Persist, then act": `commit` returns only once the changes are durable.
public protocol RolloutStore: Sendable {
    /// Commits the changes in one transaction, durably (callers may be batched into one transaction).
    func commit(_ changes: [StoreChange]) async throws

    /// A rollout id never used before in this state directory.
    func allocateRolloutID() async throws -> Int64

    /// Every rollout whose phase is not final, with its waves, approvals and host runs.
    func activeRollouts() async throws -> [RolloutSnapshot]
    func rollout(id: Int64) async throws -> RolloutSnapshot?
    /// Newest first; finished ones only when `includeFinished`.
    func rollouts(includeFinished: Bool, limit: Int) async throws -> [RolloutRecord]
    /// Whether a rollout of this version of the procedure was ever created (active or finished): what
    /// `auto_plan` asks before it plans a version (never twice). Indexed, whatever the number of rollouts.
    func hasRollout(procedure: String, version: String) async throws -> Bool

    /// Oldest first, entries at or after `since`.
    func audit(since: EpochMillis?, limit: Int) async throws -> [AuditRecord]
    /// One page of the audit trail: the newest entries at or after `since` with an id below `before`, at
    /// most `limit` of them and about `maxBytes` of text (at least one entry); see `AuditPage`.
    func auditPage(since: EpochMillis?, before: Int64?, limit: Int, maxBytes: Int) async throws -> AuditPage
    func releases(procedure: String?) async throws -> [ReleaseRecord]
    func hostVersions() async throws -> [HostVersionRecord]
    func windows() async throws -> [WindowRecord]
    func feedStates() async throws -> [String: String]
    /// Every artifact record, by procedure and version.
    func artifacts() async throws -> [ArtifactRecord]
    /// Hosts with a reboot pending, by host then procedure.
    func pendingReboots() async throws -> [PendingReboot]
}

extension RolloutStore {
    /// A store that keeps no artifacts (the engine's fakes).
    public func artifacts() async throws -> [ArtifactRecord] { [] }
    /// Stores without reboots (test fakes) have none pending.
    public func pendingReboots() async throws -> [PendingReboot] { [] }
}

/// A page of the audit trail, read in bounded memory whatever the trail holds.
public struct AuditPage: Hashable, Sendable {
    /// Oldest first.
    public var records: [AuditRecord]
    /// Older entries that match exist beyond this page.
    public var more: Bool

    public init(records: [AuditRecord], more: Bool) {
        self.records = records
        self.more = more
    }

    /// What one entry counts against a page's byte budget: its text, and a little for the rest.
    public static func weight(_ record: AuditRecord) -> Int {
        64 + record.user.utf8.count + record.action.utf8.count + record.target.utf8.count
            + (record.comment?.utf8.count ?? 0) + record.outcome.utf8.count
    }
}
