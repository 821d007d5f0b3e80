import GRDB
import ITVCore
import ITVEngine

/// The outbox table: one row per notification and sink, written in the transaction of the change that
/// caused it, updated after each delivery attempt. Delivered and dropped rows stay 7 days (for
/// `itvctl notify list`), then go.
enum StoreOutbox {
    static let keepDone: EpochMillis = 7 * 24 * 3_600_000

    static func createOutbox(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE outbox (
                    id TEXT NOT NULL,
                    sink TEXT NOT NULL,
                    event TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    payload TEXT NOT NULL,
                    -- pending, delivered, dropped
                    state TEXT NOT NULL DEFAULT 'pending',
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_at INTEGER NOT NULL,
                    last_error TEXT,
                    last_attempt_at INTEGER,
                    done_at INTEGER,
                    PRIMARY KEY (id, sink)
                );
                CREATE INDEX outbox_due ON outbox (sink, state, next_at);
                """)
    }

    static func insert(_ r: OutboxRecord, _ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO outbox (id, sink, event, created_at, payload, next_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (id, sink) DO NOTHING
                """
        ).execute(arguments: [r.id, r.sink, r.event, r.createdAt, r.payload, r.createdAt])
    }

    static func record(_ id: String, _ sink: String, _ outcome: OutboxOutcome, _ db: Database) throws {
        switch outcome {
        case .delivered(let at):
            try db.cachedStatement(
                sql: """
                    UPDATE outbox SET state = 'delivered', done_at = ?, last_attempt_at = ?
                    WHERE id = ? AND sink = ? AND state = 'pending'
                    """
            ).execute(arguments: [at, at, id, sink])
            try db.cachedStatement(sql: "DELETE FROM outbox WHERE state != 'pending' AND done_at < ?")
                .execute(arguments: [at - keepDone])
        case .failed(let at, let attempts, let nextAt, let error):
            try db.cachedStatement(
                sql: """
                    UPDATE outbox SET attempts = ?, next_at = ?, last_error = ?, last_attempt_at = ?
                    WHERE id = ? AND sink = ? AND state = 'pending'
                    """
            ).execute(arguments: [attempts, nextAt, error, at, id, sink])
        case .dropped(let at, let error):
            try db.cachedStatement(
                sql: """
                    UPDATE outbox SET state = 'dropped', done_at = ?, last_error = ?, last_attempt_at = ?
                    WHERE id = ? AND sink = ? AND state = 'pending'
                    """
            ).execute(arguments: [at, error, at, id, sink])
        }
    }
}

extension SQLiteRolloutStore: OutboxStore {
    public func dueOutbox(sink: String, now: EpochMillis, limit: Int) async throws -> [OutboxEntry] {
        try await read("read the outbox") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, sink, event, created_at, payload, attempts, next_at, last_error FROM outbox
                    WHERE sink = ? AND state = 'pending' AND next_at <= ? ORDER BY next_at, created_at, id LIMIT ?
                    """, arguments: [sink, now, limit]
            ).map {
                OutboxEntry(
                    id: $0["id"], sink: $0["sink"], event: $0["event"], createdAt: $0["created_at"],
                    payload: $0["payload"], attempts: $0["attempts"], nextAt: $0["next_at"],
                    lastError: $0["last_error"])
            }
        }
    }

    public func nextOutboxDue(sink: String) async throws -> EpochMillis? {
        try await read("read the outbox") { db in
            try EpochMillis.fetchOne(
                db, sql: "SELECT MIN(next_at) FROM outbox WHERE sink = ? AND state = 'pending'", arguments: [sink])
        }
    }

    public func outboxSummary() async throws -> [OutboxSinkSummary] {
        try await read("read the outbox") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT sink,
                        SUM(state = 'pending') AS pending,
                        SUM(state = 'pending' AND attempts > 0) AS failing,
                        SUM(state = 'delivered') AS delivered,
                        SUM(state = 'dropped') AS dropped,
                        MAX(CASE WHEN state = 'delivered' THEN done_at END) AS last_delivered_at,
                        (SELECT o2.last_error FROM outbox o2 WHERE o2.sink = o.sink AND o2.last_error IS NOT NULL
                            ORDER BY o2.last_attempt_at DESC LIMIT 1) AS last_error,
                        (SELECT MAX(o3.last_attempt_at) FROM outbox o3 WHERE o3.sink = o.sink
                            AND o3.last_error IS NOT NULL) AS last_error_at
                    FROM outbox o GROUP BY sink ORDER BY sink
                    """
            ).map {
                OutboxSinkSummary(
                    sink: $0["sink"], pending: $0["pending"] ?? 0, failing: $0["failing"] ?? 0,
                    delivered: $0["delivered"] ?? 0, dropped: $0["dropped"] ?? 0, lastError: $0["last_error"],
                    lastErrorAt: $0["last_error_at"], lastDeliveredAt: $0["last_delivered_at"])
            }
        }
    }
}
