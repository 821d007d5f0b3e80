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
    case window(WindowRecord)
    /// Conditional-GET and failure state of a feed, opaque to the store (JSON).
    case feedState(procedure: String, json: String)
}

/// Why the store cannot do what was asked.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stable: `locked` (another itvd uses the state directory), `corrupt`, `unreadable`, `too_new`
    /// (written by a newer itvd), `conflict` (a change that would make a second active rollout of a
    /// procedure: the caller's request is refused, the store is fine), `invalid` (a change that breaks
    /// another constraint, e.g. a host run of a rollout that is not stored), `io`.
    public var kind: String
    public var message: String

    public init(kind: String, message: String) {
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

    /// Oldest first, entries at or after `since`.
    func audit(since: EpochMillis?, limit: Int) async throws -> [AuditRecord]
    func releases(procedure: String?) async throws -> [ReleaseRecord]
    func hostVersions() async throws -> [HostVersionRecord]
    func windows() async throws -> [WindowRecord]
    func feedStates() async throws -> [String: String]
}
