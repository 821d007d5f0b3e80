import Foundation
import ITVCore

/// What the release detector needs of the state store: the releases seen so far, and recording a new one.
/// `StoreReleaseLedger` adapts any `RolloutStore`.
public protocol ReleaseLedger: Sendable {
    func releases(procedure: String) async throws -> [ReleaseRecord]
    /// Durable when it returns ("persist, then act").
    func record(_ release: ReleaseRecord) async throws
    /// Keeps a feed's validators for the next start (best effort).
    func saveValidators(_ validators: FeedValidators, procedure: String) async throws
    /// Stores the feed's digest of a release recorded without one (`feedSHA256` set, everything else as
    /// recorded): no new release, nothing to announce. Durable when it returns.
    func learnDigest(_ release: ReleaseRecord) async throws
}

extension ReleaseLedger {
    public func saveValidators(_ validators: FeedValidators, procedure: String) async throws {}
    public func learnDigest(_ release: ReleaseRecord) async throws { try await record(release) }
}

/// The `RolloutStore` as a `ReleaseLedger`.
public struct StoreReleaseLedger: ReleaseLedger {
    public let store: any RolloutStore

    public init(store: any RolloutStore) { self.store = store }

    public func releases(procedure: String) async throws -> [ReleaseRecord] {
        try await store.releases(procedure: procedure)
    }

    public func record(_ release: ReleaseRecord) async throws {
        let extra = notify?.records(release) ?? []
        try await store.commit([.release(release)] + extra)
        notify?.routing.wake(extra)
    }

    public func learnDigest(_ release: ReleaseRecord) async throws {
        try await store.commit([.release(release)])
    }

    /// `release.detected` notifications, committed with the release record.
    public var notify: (routing: NotifyRouting, records: @Sendable (ReleaseRecord) -> [StoreChange])?

    public func saveValidators(_ validators: FeedValidators, procedure: String) async throws {
        let json = String(decoding: try JSONEncoder().encode(validators), as: UTF8.self)
        try await store.commit([.feedState(procedure: procedure, json: json)])
    }

    /// The validators saved by `saveValidators`, for `FeedWatcher.setFeeds(_:validators:)` at start.
    public func savedValidators() async throws -> [String: FeedValidators] {
        try await store.feedStates().compactMapValues {
            try? JSONDecoder().decode(FeedValidators.self, from: Data($0.utf8))
        }
    }
}

/// What the feed side has to say, for the journal (`event`) and for planning (`releaseDetected`).
public enum FeedEvent: Hashable, Sendable {
    /// A release never seen before, higher than any seen; already recorded in the ledger.
    case releaseDetected(ReleaseRecord)
    /// A candidate that is not a version under the procedure's scheme (reported once per text).
    case candidateRejected(procedure: String, candidate: RejectedCandidate)
    /// More candidates of one document were rejected than are journaled one by one.
    case candidatesRejected(procedure: String, count: Int)
    /// The feed offers only versions older than one already seen: no rollout, journaled as suspicious.
    case rollbackSuspected(procedure: String, offered: String, highestSeen: String)
    case feedBroken(procedure: String, error: FeedPollError)
    case feedRecovered(procedure: String)
    /// The ledger could not be read or written; the document will be read again on the next poll.
    case ledgerFailed(procedure: String, message: String)

    /// The journal's `ITV_EVENT`.
    public var event: ITVEvent {
        switch self {
        case .releaseDetected: .releaseDetected
        case .candidateRejected, .candidatesRejected, .rollbackSuspected: .feedRejected
        case .feedBroken, .ledgerFailed: .feedBroken
        case .feedRecovered: .feedRecovered
        }
    }

    public var procedure: String {
        switch self {
        case .releaseDetected(let r): r.procedure
        case .candidateRejected(let p, _), .candidatesRejected(let p, _), .rollbackSuspected(let p, _, _),
            .feedBroken(let p, _),
            .feedRecovered(let p), .ledgerFailed(let p, _):
            p
        }
    }

    /// One line for the journal's MESSAGE, in the operators' words.
    public var message: String {
        switch self {
        case .releaseDetected(let r): "new release \(r.version) of \(r.procedure) seen in \(r.feedURL)"
        case .candidateRejected(let p, let c): "feed of \(p) offered '\(c.shown)', which is not a version: \(c.reason)"
        case .candidatesRejected(let p, let n):
            "feed of \(p) offered \(n) more candidates that are not versions (not journaled one by one)"
        case .rollbackSuspected(let p, let offered, let seen):
            "feed of \(p) now offers at most \(offered), older than \(seen) seen before: possible rollback attack, "
                + "no rollout"
        case .feedBroken(let p, let e): "feed of \(p) is broken: \(e.message) (\(e.kind))"
        case .feedRecovered(let p): "feed of \(p) works again"
        case .ledgerFailed(let p, let m): "cannot record releases of \(p): \(m)"
        }
    }
}

/// Where feed events go (the journal, and the engine for `auto_plan`).
public protocol FeedEventSink: Sendable {
    func report(_ event: FeedEvent) async
}

/// The watcher's delegate in production: selects the release under the procedure's scheme, records new ones in
/// the ledger, and reports everything once.
public actor ReleaseDetector: FeedWatcherDelegate {
    private let ledger: any ReleaseLedger
    private let sink: any FeedEventSink
    private var seen: [String: Set<Version>] = [:]
    private var reportedRejections: [String: Set<String>] = [:]
    private var reportedRollback: [String: String] = [:]
    /// Per procedure whose feed has `sha256_from_feed`: its recorded releases without the feed's digest (recorded
    /// before the playbook had the key), by raw version. Read with `seen` (and forgotten with it by `reset`),
    /// emptied as digests are learned.
    private var digestless: [String: [String: ReleaseRecord]] = [:]

    public init(ledger: any ReleaseLedger, sink: any FeedEventSink) {
        self.ledger = ledger
        self.sink = sink
    }

    public func feed(_ procedure: String, spec: FeedSpec, offered extraction: FeedExtraction, at: Date) async -> Bool {
        // Two documents of one feed may be handled at once (a poll and `itvctl feed check`): what is known is
        // read after every await, and a new release is marked seen before it is recorded, so that it is
        // recorded and reported once.
        if seen[procedure] == nil {
            do {
                let records = try await ledger.releases(procedure: procedure)
                seen[procedure, default: []].formUnion(records.compactMap { try? spec.scheme.parse($0.version).get() })
                if spec.digestSelect != nil, digestless[procedure] == nil {
                    digestless[procedure] = Dictionary(
                        records.filter { $0.feedSHA256 == nil }.map { ($0.version, $0) },
                        uniquingKeysWith: { first, _ in first })
                }
            } catch {
                await sink.report(.ledgerFailed(procedure: procedure, message: "\(error)"))
                return false
            }
        }
        let known = seen[procedure] ?? []
        let selection = ReleaseSelector.select(candidates: extraction.candidates, spec: spec, seen: known)
        await reportRejections(extraction.rejected + selection.rejected, procedure: procedure)
        if let (offered, highest) = selection.rollbackSuspected {
            if reportedRollback[procedure] != offered.raw {
                reportedRollback[procedure] = offered.raw
                await sink.report(
                    .rollbackSuspected(procedure: procedure, offered: offered.raw, highestSeen: highest.raw))
            }
        } else {
            reportedRollback[procedure] = nil
        }
        if spec.digestSelect != nil, !(await learnDigests(procedure, spec: spec, extraction: extraction)) {
            return false
        }
        guard let new = selection.newRelease else { return true }
        // sha256_from_feed: the digest the entry announcing this version gave, kept with the release.
        let digest = spec.digestSelect.flatMap { _ in
            extraction.candidates.first { (try? spec.scheme.parse($0).get()) == new }.flatMap {
                extraction.digests[$0]
            }
        }
        let record = ReleaseRecord(
            procedure: procedure, version: new.raw,
            firstSeen: EpochMillis((at.timeIntervalSince1970 * 1_000).rounded()),
            feedURL: spec.url, feedSHA256: digest)
        seen[procedure, default: []].insert(new)
        do {
            try await ledger.record(record)
        } catch {
            seen[procedure]?.remove(new)  // not recorded: the next poll finds it new again
            await sink.report(.ledgerFailed(procedure: procedure, message: "\(error)"))
            return false
        }
        await sink.report(.releaseDetected(record))
        return true
    }

    /// `sha256_from_feed` added to a playbook after its release was recorded: the feed's digest of each such
    /// release is stored as soon as a document offers the version with a digest, so that the artifact is
    /// verified against it (else it stays rejected as `missing_entry`). The digest is the one the feed gives
    /// now, trusted as a new release's would be; a release that already has one keeps it (a vendor that
    /// changes the digest of a published version is refused, not followed). False when the ledger failed.
    private func learnDigests(_ procedure: String, spec: FeedSpec, extraction: FeedExtraction) async -> Bool {
        guard let waiting = digestless[procedure], !waiting.isEmpty else { return true }
        var offered: [Version: String] = [:]
        for candidate in extraction.candidates {
            guard let digest = extraction.digests[candidate], let v = try? spec.scheme.parse(candidate).get() else {
                continue
            }
            if offered[v] == nil { offered[v] = digest }
        }
        for (raw, record) in waiting {
            guard let v = try? spec.scheme.parse(raw).get(), let digest = offered[v],
                digestless[procedure]?.removeValue(forKey: raw) != nil
            else { continue }
            var learned = record
            learned.feedSHA256 = digest
            do {
                try await ledger.learnDigest(learned)
            } catch {
                digestless[procedure]?[raw] = record  // not stored: the next document tries again
                await sink.report(.ledgerFailed(procedure: procedure, message: "\(error)"))
                return false
            }
        }
        return true
    }

    /// Journals each rejected text once, at most `FeedBounds.maxRejectionsReported` per document and the rest as
    /// a count. What was reported is remembered per procedure up to `maxRemembered` texts, then forgotten: a
    /// feed that offers new garbage on every poll costs a bounded journal rate and bounded memory.
    private func reportRejections(_ rejected: [RejectedCandidate], procedure: String) async {
        var reported = reportedRejections[procedure] ?? []
        reportedRejections[procedure] = nil
        if reported.count > Self.maxRemembered { reported = [] }
        var unreported = 0
        var sent = 0
        for candidate in rejected where reported.insert(candidate.shown).inserted {
            if sent < FeedBounds.maxRejectionsReported {
                sent += 1
                await sink.report(.candidateRejected(procedure: procedure, candidate: candidate))
            } else {
                unreported += 1
            }
        }
        reportedRejections[procedure] = reported
        if unreported > 0 { await sink.report(.candidatesRejected(procedure: procedure, count: unreported)) }
    }

    static let maxRemembered = 1_000

    public func feed(_ procedure: String, broke error: FeedPollError, at: Date) async {
        await sink.report(.feedBroken(procedure: procedure, error: error))
    }

    public func feedRecovered(_ procedure: String, at: Date) async {
        await sink.report(.feedRecovered(procedure: procedure))
    }

    public func feed(_ procedure: String, validators: FeedValidators) async {
        try? await ledger.saveValidators(validators, procedure: procedure)
    }

    /// Forgets cached state (the playbook's scheme may have changed on reload).
    public func reset(_ procedure: String) {
        seen[procedure] = nil
        reportedRejections[procedure] = nil
        reportedRollback[procedure] = nil
        digestless[procedure] = nil
    }
}
