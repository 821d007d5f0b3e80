import ITVCore

/// A notification waiting for (or done with) delivery to one sink.
public struct OutboxEntry: Hashable, Sendable {
    public var id: String
    public var sink: String
    public var event: String
    public var createdAt: EpochMillis
    public var payload: String
    /// Failed attempts so far.
    public var attempts: Int
    public var nextAt: EpochMillis
    public var lastError: String?

    public init(
        id: String, sink: String, event: String, createdAt: EpochMillis, payload: String, attempts: Int,
        nextAt: EpochMillis, lastError: String?
    ) {
        self.id = id
        self.sink = sink
        self.event = event
        self.createdAt = createdAt
        self.payload = payload
        self.attempts = attempts
        self.nextAt = nextAt
        self.lastError = lastError
    }
}

/// The outbox of one sink at a glance (`itvctl notify list`).
public struct OutboxSinkSummary: Hashable, Sendable {
    public var sink: String
    public var pending: Int
    /// Pending ones that failed at least once.
    public var failing: Int
    public var delivered: Int
    public var dropped: Int
    public var lastError: String?
    public var lastErrorAt: EpochMillis?
    public var lastDeliveredAt: EpochMillis?

    public init(
        sink: String, pending: Int = 0, failing: Int = 0, delivered: Int = 0, dropped: Int = 0,
        lastError: String? = nil, lastErrorAt: EpochMillis? = nil, lastDeliveredAt: EpochMillis? = nil
    ) {
        self.sink = sink
        self.pending = pending
        self.failing = failing
        self.delivered = delivered
        self.dropped = dropped
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
        self.lastDeliveredAt = lastDeliveredAt
    }
}

/// What the senders need of the state store beside `commit` (which records outcomes durably through
/// `StoreChange.outboxAttempt`).
public protocol OutboxStore: Sendable {
    /// Pending entries of `sink` due at `now`, in the order they became due (then oldest first), at most `limit` (the sender's memory bound).
    func dueOutbox(sink: String, now: EpochMillis, limit: Int) async throws -> [OutboxEntry]
    /// When the next pending entry of `sink` is due (nil: nothing pending).
    func nextOutboxDue(sink: String) async throws -> EpochMillis?
    func outboxSummary() async throws -> [OutboxSinkSummary]
}

/// How a delivery attempt ended, to be committed.
public enum OutboxOutcome: Hashable, Sendable {
    case delivered(at: EpochMillis)
    case failed(at: EpochMillis, attempts: Int, nextAt: EpochMillis, error: String)
    case dropped(at: EpochMillis, error: String)
}
