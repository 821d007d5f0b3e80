import Foundation
import ITVCore
import Synchronization

/// Where the watcher's findings go: the release detector (scheme, store, journal) in the daemon.
public protocol FeedWatcherDelegate: Sendable {
    /// A feed served a document (not on 304) and it was read; candidates are in document order.
    /// Returns false when it could not be handled (the store failed): the document is then fetched in full
    /// again on the next poll instead of being answered with 304.
    func feed(_ procedure: String, spec: FeedSpec, offered extraction: FeedExtraction, at: Date) async -> Bool
    /// The feed just became broken (reported once, not on every failing poll).
    func feed(_ procedure: String, broke error: FeedPollError, at: Date) async
    /// The feed works again after being broken.
    func feedRecovered(_ procedure: String, at: Date) async
    /// Every poll, whatever its outcome, after the calls above (`itvctl feed check`, "last polled" times).
    func feedPolled(_ procedure: String, outcome: FeedPollOutcome, at: Date) async
    /// The validators of the feed's last handled document changed (persist them for the next start).
    func feed(_ procedure: String, validators: FeedValidators) async
}

extension FeedWatcherDelegate {
    public func feedPolled(_ procedure: String, outcome: FeedPollOutcome, at: Date) async {}
    public func feed(_ procedure: String, validators: FeedValidators) async {}
}

/// Deadlines and caps for every fetch the watcher makes.
public struct FeedFetchLimits: Hashable, Sendable {
    public var connectTimeout: Duration = .seconds(10)
    public var totalTimeout: Duration = .seconds(30)
    public var maxBodyBytes: Int = 4 * 1_024 * 1_024

    public init() {}
}

/// Polls every procedure's feed: the scheduler decides when, the fetcher fetches, the parser reads, the
/// delegate hears the results. Run it with `run()` (until its task is cancelled).
public actor FeedWatcher {
    private struct Watched {
        var spec: FeedSpec
        var etag: String?
        var lastModified: String?
    }

    private var scheduler: FeedScheduler<SplitMix64>
    private var feeds: [String: Watched] = [:]
    private let fetcher: any FeedFetcher
    private let parser: any FeedDocumentParser
    private let delegate: any FeedWatcherDelegate
    private let limits: FeedFetchLimits
    private let clock: any EngineClock
    private let signal = WakeSignal()
    private var armedTimer: Date?

    public init(
        fetcher: any FeedFetcher, parser: any FeedDocumentParser, delegate: any FeedWatcherDelegate,
        policy: FeedPolicy = FeedPolicy(), limits: FeedFetchLimits = FeedFetchLimits(),
        seed: UInt64 = UInt64.random(in: 0...UInt64.max), clock: any EngineClock = SystemEngineClock()
    ) {
        self.scheduler = FeedScheduler(policy: policy, rng: SplitMix64(seed: seed))
        self.fetcher = fetcher
        self.parser = parser
        self.delegate = delegate
        self.limits = limits
        self.clock = clock
    }

    /// The engine clock's time, as the scheduler counts it.
    private func now() -> Date { Date(timeIntervalSince1970: Double(clock.now()) / 1_000) }

    /// Replaces the set of watched feeds (load and reload). Validators of unchanged feeds are kept; `validators`
    /// (from the store, at start) seed those of new feeds so that the first poll can already be answered with 304.
    public func setFeeds(_ specs: [String: FeedSpec], validators: [String: FeedValidators] = [:]) {
        let t = now()
        for id in feeds.keys where specs[id] == nil {
            feeds[id] = nil
            scheduler.remove(id)
        }
        for (id, spec) in specs {
            if let old = feeds[id], old.spec == spec { continue }
            if let old = feeds[id], old.spec.url != spec.url { scheduler.remove(id) }
            let seed = feeds[id] == nil ? validators[id] : nil
            feeds[id] = Watched(spec: spec, etag: seed?.etag, lastModified: seed?.lastModified)
            scheduler.add(id, url: spec.url, every: .seconds(max(1, spec.every.seconds)), now: t)
        }
        signal.signal()
    }

    /// Polls these feeds (all when empty) as soon as the limits allow: `itvctl feed check`.
    public func pollNow(_ ids: [String] = []) {
        scheduler.pollSoon(ids.isEmpty ? Array(feeds.keys) : ids, now: now())
        signal.signal()
    }

    /// The scheduler's view of one feed (for `itvctl` and tests).
    public func state(of id: String) -> (nextDue: Date, failures: Int, broken: Bool, inFlight: Bool)? {
        scheduler.state(of: id)
    }

    /// Polls until the calling task is cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                for id in scheduler.takeDue(now: now()) {
                    guard let watched = feeds[id] else { continue }
                    group.addTask { await self.poll(id, watched) }
                }
                if let wake = scheduler.nextWake(), armedTimer.map({ wake < $0 }) ?? true {
                    armedTimer = wake
                    let delay = max(0, wake.timeIntervalSince(now()))
                    group.addTask { [signal, clock] in
                        try? await clock.sleep(seconds: min(delay, 86_400) + 0.001)
                        await self.timerFired(wake)
                        signal.signal()
                    }
                }
                await signal.wait()
            }
            group.cancelAll()
        }
    }

    private func timerFired(_ at: Date) { if armedTimer == at { armedTimer = nil } }

    /// One poll: fetch (conditionally), read, report. Runs outside the actor except for its bookkeeping.
    private nonisolated func poll(_ id: String, _ watched: Watched) async {
        let request = FeedRequest(
            url: watched.spec.url, allowHTTP: watched.spec.allowHTTP, etag: watched.etag,
            lastModified: watched.lastModified, connectTimeout: limits.connectTimeout,
            totalTimeout: limits.totalTimeout, maxBodyBytes: limits.maxBodyBytes)
        let response = await fetcher.fetch(request)
        switch response {
        case .notModified:
            await finished(id, .succeeded, validators: nil, report: nil)
        case .failed(let error) where error.kind == .cancelled:
            // Shutdown: not the feed's fault, so neither a failure nor a report.
            await abandoned(id)
        case .failed(let error):
            await finished(
                id, .failed(FeedPollError(error), retryAfter: error.retryAfter), validators: nil, report: nil)
        case .fetched(let document):
            switch parser.extract(document, spec: watched.spec) {
            case .failure(let error):
                await finished(id, .failed(FeedPollError(error), retryAfter: nil), validators: nil, report: nil)
            case .success(let extraction):
                await finished(
                    id, .succeeded, validators: (document.etag, document.lastModified),
                    report: (watched.spec, extraction))
            }
        }
    }

    private func abandoned(_ id: String) {
        scheduler.abandoned(id)
        signal.signal()
    }

    private func finished(
        _ id: String, _ outcome: FeedPollOutcome, validators: (String?, String?)?,
        report: (FeedSpec, FeedExtraction)?
    ) async {
        let t = now()
        let change = scheduler.finished(id, outcome, now: t)
        signal.signal()
        if let report {
            // Validators are kept only for a document that was read and handled; otherwise the next poll
            // fetches it in full again.
            let handled = await delegate.feed(id, spec: report.0, offered: report.1, at: t)
            if let old = feeds[id] {
                let new = FeedValidators(
                    etag: handled ? validators?.0 : nil, lastModified: handled ? validators?.1 : nil)
                feeds[id]?.etag = new.etag
                feeds[id]?.lastModified = new.lastModified
                if new != FeedValidators(etag: old.etag, lastModified: old.lastModified) {
                    await delegate.feed(id, validators: new)
                }
            }
        }
        switch change {
        case .broke(let error): await delegate.feed(id, broke: error, at: t)
        case .recovered: await delegate.feedRecovered(id, at: t)
        case nil: break
        }
        await delegate.feedPolled(id, outcome: outcome, at: t)
    }
}
