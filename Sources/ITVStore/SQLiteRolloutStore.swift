import Foundation
import GRDB
import ITVCore
import ITVEngine

/// The `RolloutStore` on a SQLite file in the state directory (`<dir>/itvd.sqlite`), with the directory
/// locked for one itvd and a marker (`<dir>/itvd.state`) that records that the store exists.
///
/// All database work runs on one serial dispatch queue of the store's own, never on Swift's cooperative
/// pool; callers wait in continuations. Concurrent `commit` calls are batched (group commit): the writer
/// takes everything queued, writes it in one transaction, each caller's changes in a savepoint of their
/// own, and resumes the callers once the transaction is on disk. A caller whose changes are refused (a
/// constraint) gets its error and the others still commit; when the transaction itself fails, every caller
/// in the batch gets the error. The work is not cancelled with the calling task: a commit that has started
/// finishes, so "persist, then act" never sees a half-known outcome from a cancellation.
public final class SQLiteRolloutStore: RolloutStore, @unchecked Sendable {
    /// How the store batches commits.
    public struct Options: Sendable {
        /// The most `commit` calls written in one transaction (at least 1). 1 turns group commit off:
        /// benchmarks use it as the baseline.
        public var maxCommitsPerTransaction: Int

        public init(maxCommitsPerTransaction: Int = 1024) {
            self.maxCommitsPerTransaction = max(1, maxCommitsPerTransaction)
        }
    }

    public let stateDirectory: String
    public var databasePath: String { stateDirectory + "/itvd.sqlite" }
    public let options: Options
    /// What `open` found and did (created, set aside, marker repaired), for the journal.
    public let openReport: StoreOpenReport

    /// Everything below is touched only on `queue`, except the pending list and the counter (`pendingLock`).
    private let queue = DispatchQueue(label: "itvd.store")
    private var database: DatabaseQueue?
    private var lock: StateDirectoryLock?

    private let pendingLock = NSLock()
    private var pending: [PendingCommit] = []
    private var drainScheduled = false
    private var transactions = 0

    private struct PendingCommit {
        var changes: [StoreChange]
        var continuation: CheckedContinuation<Void, any Error>
    }

    private init(
        stateDirectory: String, options: Options, database: DatabaseQueue, lock: StateDirectoryLock,
        openReport: StoreOpenReport
    ) {
        self.stateDirectory = stateDirectory
        self.options = options
        self.openReport = openReport
        self.database = database
        self.lock = lock
    }

    deinit { closeOnQueue() }

    /// Opens the store of a state directory, creating it in a directory that never had one. Blocks while it
    /// checks the file (an integrity check reads the whole database): call it before serving, or from a thread
    /// of your own.
    ///
    /// Throws `StoreError`: `locked` (another itvd holds the directory); `missing`, `empty` (a store existed
    /// here, `itvd.state` says so, and its file is gone or empty), `corrupt`, `unreadable`, `replaced` (not the
    /// store that was created here) and `too_new` (written by a newer itvd): in each of these the files are
    /// left exactly as they are; `init_refused` (`.initialize` of a healthy store); `io`.
    public static func open(
        stateDirectory: String, mode: StoreOpenMode = .existing, options: Options = Options()
    ) throws -> SQLiteRolloutStore {
        try open(stateDirectory: stateDirectory, mode: mode, options: options, migrator: StoreSchema.migrator)
    }

    /// `open(stateDirectory:)` on a dispatch queue of its own, for callers on Swift's cooperative pool.
    public static func open(
        stateDirectory: String, mode: StoreOpenMode = .existing, options: Options = Options()
    ) async throws -> SQLiteRolloutStore {
        try await open(stateDirectory: stateDirectory, mode: mode, options: options, migrator: StoreSchema.migrator)
    }

    static func open(
        stateDirectory: String, mode: StoreOpenMode = .existing, options: Options = Options(),
        migrator: DatabaseMigrator
    ) async throws -> SQLiteRolloutStore {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue(label: "itvd.store.open").async {
                continuation.resume(
                    with: Result {
                        try open(stateDirectory: stateDirectory, mode: mode, options: options, migrator: migrator)
                    })
            }
        }
    }

    /// With a given schema: tests use it to play a newer itvd.
    static func open(
        stateDirectory: String, mode: StoreOpenMode = .existing, options: Options = Options(),
        migrator: DatabaseMigrator
    ) throws -> SQLiteRolloutStore {
        try StoreFiles.createDirectory(stateDirectory)
        let lock = try StateDirectoryLock.acquire(directory: stateDirectory)
        let (database, report) = try StoreOpening.open(directory: stateDirectory, mode: mode, migrator: migrator)
        return SQLiteRolloutStore(
            stateDirectory: stateDirectory, options: options, database: database, lock: lock, openReport: report)
    }

    /// Finishes the commits and reads already asked for, closes the database and releases the state
    /// directory. Later calls fail with `io`.
    public func close() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async {
                while self.pendingLock.withLock({ !self.pending.isEmpty }) { self.drain() }
                self.closeOnQueue()
                done.resume()
            }
        }
    }

    private func closeOnQueue() {
        try? database?.close()
        database = nil
        lock?.release()
        lock = nil
    }

    /// How many transactions group commit has used so far (for tests).
    var committedTransactions: Int { pendingLock.withLock { transactions } }

    // MARK: - Writes

    public func commit(_ changes: [StoreChange]) async throws {
        guard !changes.isEmpty else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let schedule = pendingLock.withLock {
                pending.append(PendingCommit(changes: changes, continuation: continuation))
                defer { drainScheduled = true }
                return !drainScheduled
            }
            if schedule { queue.async { self.drain() } }
        }
    }

    /// Writes what is queued (up to `maxCommitsPerTransaction` callers) in one transaction. The next drain
    /// is queued behind any reads already waiting, so a steady stream of commits does not starve reads.
    private func drain() {
        let (batch, more) = pendingLock.withLock {
            let batch = Array(pending.prefix(options.maxCommitsPerTransaction))
            pending.removeFirst(batch.count)
            drainScheduled = !pending.isEmpty
            return (batch, drainScheduled)
        }
        if more { queue.async { self.drain() } }
        guard !batch.isEmpty else { return }
        guard let database else {
            for item in batch { item.continuation.resume(throwing: Self.closedError) }
            return
        }
        var refused: [Int: any Error] = [:]
        do {
            try database.inTransaction(.immediate) { db in
                for (index, item) in batch.enumerated() {
                    do {
                        try db.inSavepoint {
                            try StoreWrites.apply(item.changes, in: db)
                            return .commit
                        }
                    } catch {
                        // Some errors (I/O, disk full) make SQLite roll the whole transaction back.
                        guard db.isInsideTransaction else { throw error }
                        refused[index] = error
                    }
                }
                return .commit
            }
        } catch {
            let failure = Self.storeError(error, doing: "commit")
            for item in batch { item.continuation.resume(throwing: failure) }
            return
        }
        pendingLock.withLock { transactions += 1 }
        for (index, item) in batch.enumerated() {
            if let error = refused[index] {
                item.continuation.resume(throwing: Self.storeError(error, doing: "commit"))
            } else {
                item.continuation.resume()
            }
        }
    }

    public func allocateRolloutID() async throws -> Int64 {
        try await onQueue("allocate a rollout id") { database in
            try database.write { try StoreWrites.allocateRolloutID(in: $0) }
        }
    }

    // MARK: - Reads

    public func activeRollouts() async throws -> [RolloutSnapshot] {
        try await read("read the active rollouts") { db in
            try StoreReads.snapshots(db, whereSQL: "finished = 0", arguments: [])
        }
    }

    public func rollout(id: Int64) async throws -> RolloutSnapshot? {
        try await read("read rollout \(id)") { db in
            try StoreReads.snapshots(db, whereSQL: "id = ?", arguments: [id]).first
        }
    }

    public func rollouts(includeFinished: Bool, limit: Int) async throws -> [RolloutRecord] {
        try await read("list rollouts") { try StoreReads.rollouts($0, includeFinished: includeFinished, limit: limit) }
    }

    public func hasRollout(procedure: String, version: String) async throws -> Bool {
        try await read("look up rollouts of \(procedure) \(version)") {
            try StoreReads.hasRollout($0, procedure: procedure, version: version)
        }
    }

    public func audit(since: EpochMillis?, limit: Int) async throws -> [AuditRecord] {
        try await read("read the audit trail") { try StoreReads.audit($0, since: since, limit: limit) }
    }

    public func auditPage(since: EpochMillis?, before: Int64?, limit: Int, maxBytes: Int) async throws -> AuditPage {
        try await read("read the audit trail") {
            try StoreReads.auditPage($0, since: since, before: before, limit: limit, maxBytes: maxBytes)
        }
    }

    public func releases(procedure: String?) async throws -> [ReleaseRecord] {
        try await read("read releases") { try StoreReads.releases($0, procedure: procedure) }
    }

    public func pendingReboots() async throws -> [PendingReboot] {
        try await read("read pending reboots") { try StoreReads.pendingReboots($0) }
    }

    public func hostVersions() async throws -> [HostVersionRecord] {
        try await read("read host versions") { try StoreReads.hostVersions($0) }
    }

    public func windows() async throws -> [WindowRecord] {
        try await read("read windows") { try StoreReads.windows($0) }
    }

    public func feedStates() async throws -> [String: String] {
        try await read("read feed states") { try StoreReads.feedStates($0) }
    }

    public func artifacts() async throws -> [ArtifactRecord] {
        try await read("read artifacts") { try StoreReads.artifacts($0) }
    }

    /// Runs a SQL query on the store's connection (tests look at pragmas and raw rows with it).
    func withDatabase<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await onQueue("inspect the store") { database in try database.writeWithoutTransaction(body) }
    }

    // MARK: - Plumbing

    func read<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Database) throws -> T)
        async throws -> T
    {
        try await onQueue(what) { database in try database.read(body) }
    }

    private func onQueue<T: Sendable>(
        _ what: String, _ body: @escaping @Sendable (DatabaseQueue) throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            queue.async {
                guard let database = self.database else {
                    continuation.resume(throwing: Self.closedError)
                    return
                }
                do {
                    continuation.resume(returning: try body(database))
                } catch {
                    continuation.resume(throwing: Self.storeError(error, doing: what))
                }
            }
        }
    }

    private static let closedError = StoreError(kind: .io, message: "the state store is closed")

    private static func storeError(_ error: any Error, doing what: String) -> StoreError {
        if let error = error as? StoreError { return error }
        guard let error = error as? DatabaseError else {
            return StoreError(kind: .io, message: "cannot \(what): \(error)")
        }
        let reason = error.message ?? "\(error.resultCode)"
        switch error.resultCode {
        case .SQLITE_CONSTRAINT:
            return StoreError(
                kind: .constraintBroken, message: "cannot \(what): the changes break a constraint (\(reason))")
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return StoreError(kind: .corrupt, message: "cannot \(what): the state store is corrupt (\(reason))")
        default:
            return StoreError(kind: .io, message: "cannot \(what): \(reason)")
        }
    }
}
