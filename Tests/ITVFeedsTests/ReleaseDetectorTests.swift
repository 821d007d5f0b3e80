import Foundation
import ITVCore
import ITVEngine
import ITVTestSupport
import Testing

@testable import ITVFeeds

/// The ledger port in memory (the SQLite store is tested on its own).
actor MemoryLedger: ReleaseLedger {
    var records: [ReleaseRecord]
    var failing = false

    init(_ records: [ReleaseRecord] = []) { self.records = records }

    struct Down: Error {}

    func releases(procedure: String) async throws -> [ReleaseRecord] {
        if latency > .zero { try await Task.sleep(for: latency) }
        if failing { throw Down() }
        return records.filter { $0.procedure == procedure }
    }

    /// How long a read or a record takes (a real store waits for the disk).
    var latency: Duration = .zero

    func record(_ release: ReleaseRecord) async throws {
        if latency > .zero { try await Task.sleep(for: latency) }
        if failing { throw Down() }
        records.append(release)
    }

    /// Replaces the release's record, as the store's upsert does (`record` appends, to show duplicates).
    func learnDigest(_ release: ReleaseRecord) async throws {
        if failing { throw Down() }
        learned += 1
        records = records.map { $0.procedure == release.procedure && $0.version == release.version ? release : $0 }
    }
    var learned = 0

    func setFailing(_ f: Bool) { failing = f }
    func setLatency(_ d: Duration) { latency = d }
}

actor EventLog: FeedEventSink {
    var events: [FeedEvent] = []
    func report(_ event: FeedEvent) { events.append(event) }
}

/// The detector, counting polls (so tests wait for what happened, not for a fixed time).
actor CountingDetector: FeedWatcherDelegate {
    let inner: ReleaseDetector
    var polled = 0

    init(_ inner: ReleaseDetector) { self.inner = inner }

    func feed(_ procedure: String, spec: FeedSpec, offered extraction: FeedExtraction, at: Date) async -> Bool {
        await inner.feed(procedure, spec: spec, offered: extraction, at: at)
    }
    func feed(_ procedure: String, broke error: FeedPollError, at: Date) async {
        await inner.feed(procedure, broke: error, at: at)
    }
    func feedRecovered(_ procedure: String, at: Date) async { await inner.feedRecovered(procedure, at: at) }
    func feedPolled(_ procedure: String, outcome: FeedPollOutcome, at: Date) { polled += 1 }
}

@Suite(.serialized) struct ReleaseDetectorTests {
    private func watch(
        _ feeds: [String: FeedSpec], ledger: MemoryLedger, polls: Int
    ) async throws -> (events: [FeedEvent], server: TestServer.Stats) {
        let server = try TestServer()
        defer { server.stop() }
        let fetcher = CurlFeedFetcher(configuration: .init(caBundlePath: server.caPath))
        defer { fetcher.close() }
        let log = EventLog()
        var policy = FeedPolicy()
        policy.initialSpread = .milliseconds(50)
        let delegate = CountingDetector(ReleaseDetector(ledger: ledger, sink: log))
        let watcher = FeedWatcher(fetcher: fetcher, parser: FeedExtractor(), delegate: delegate, policy: policy)
        var specs: [String: FeedSpec] = [:]
        for (id, spec) in feeds {
            var s = spec
            s.url = server.https(spec.url)
            specs[id] = s
        }
        await watcher.setFeeds(specs)
        await run(watcher, timeout: .seconds(60)) { await delegate.polled >= polls }
        return (await log.events, try server.stats())
    }

    private func spec(_ path: String) -> FeedSpec {
        FeedSpec(kind: .github, url: path, match: #"^v(?<version>.+)$"#, scheme: .semver, every: TimeSpan(seconds: 1))
    }

    /// A poll and `itvctl feed check` can hand the detector the same document at once: the release is still
    /// recorded and reported once (and auto_plan asked once).
    @Test func theSameDocumentTwiceAtOnceRecordsAndReportsTheReleaseOnce() async throws {
        let ledger = MemoryLedger()
        await ledger.setLatency(.milliseconds(5))
        let log = EventLog()
        let detector = ReleaseDetector(ledger: ledger, sink: log)
        let spec = FeedSpec(kind: .text, url: "https://v.example/x", match: #"(?<version>.+)"#, scheme: .semver)
        let extraction = FeedExtraction(candidates: ["1.0.0", "1.1.0"])
        let handled = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<10 {
                group.addTask { await detector.feed("app", spec: spec, offered: extraction, at: Date()) }
            }
            var all: [Bool] = []
            for await ok in group { all.append(ok) }
            return all
        }
        #expect(handled.allSatisfy { $0 })
        let detected = await log.events.filter { if case .releaseDetected = $0 { true } else { false } }
        #expect(detected.count == 1, "\(detected)")
        #expect(await ledger.records.map(\.version) == ["1.1.0"])
        // A release whose record failed is new again on the next document.
        await ledger.setFailing(true)
        let next = FeedExtraction(candidates: ["1.2.0"])
        #expect(await detector.feed("app", spec: spec, offered: next, at: Date()) == false)
        await ledger.setFailing(false)
        #expect(await detector.feed("app", spec: spec, offered: next, at: Date()))
        #expect(await ledger.records.map(\.version) == ["1.1.0", "1.2.0"])
    }

    /// `sha256_from_feed` added after the release was recorded: the feed's digest is stored with the recorded
    /// release (first seen and URL as they were, no new release reported); a release that has a digest keeps it;
    /// a feed without the key learns nothing; a ledger failure is retried with the next document.
    @Test func aDigestAddedLaterIsLearnedForTheRecordedRelease() async throws {
        let old = ReleaseRecord(procedure: "app", version: "2.0.0", firstSeen: 1_000, feedURL: "https://v.example/a")
        let kept = ReleaseRecord(
            procedure: "app", version: "1.0.0", firstSeen: 500, feedURL: "https://v.example/a",
            feedSHA256: String(repeating: "1", count: 64))
        let ledger = MemoryLedger([kept, old])
        let log = EventLog()
        let detector = ReleaseDetector(ledger: ledger, sink: log)
        var spec = FeedSpec(kind: .json, url: "https://v.example/a", select: "releases[].version", scheme: .semver)
        let digest = String(repeating: "a", count: 64)
        let extraction = FeedExtraction(
            candidates: ["1.0.0", "2.0.0"], digests: ["1.0.0": String(repeating: "f", count: 64), "2.0.0": digest])
        // Without sha256_from_feed: nothing learned.
        #expect(await detector.feed("app", spec: spec, offered: extraction, at: Date()))
        #expect(await ledger.records.allSatisfy { $0.version == "1.0.0" || $0.feedSHA256 == nil })
        // The playbook gains the key: a reload resets the detector's procedure, as the daemon does.
        await detector.reset("app")
        spec.digestSelect = "sha256"
        await ledger.setFailing(true)
        #expect(await detector.feed("app", spec: spec, offered: extraction, at: Date()) == false)
        await ledger.setFailing(false)
        #expect(await detector.feed("app", spec: spec, offered: extraction, at: Date()))
        #expect(
            await ledger.records == [
                kept,
                ReleaseRecord(
                    procedure: "app", version: "2.0.0", firstSeen: 1_000, feedURL: "https://v.example/a",
                    feedSHA256: digest),
            ])
        // Learned once: the next documents store nothing more.
        #expect(await detector.feed("app", spec: spec, offered: extraction, at: Date()))
        #expect(await ledger.learned == 1)
        #expect(await log.events.allSatisfy { if case .releaseDetected = $0 { false } else { true } })
    }

    @Test func aNewReleaseIsRecordedAndReportedOnce() async throws {
        let ledger = MemoryLedger()
        let (events, stats) = try await watch(["app": spec("/feed/app")], ledger: ledger, polls: 2)
        #expect((stats.counts["/feed/app"] ?? 0) >= 2, "the feed should have been polled again (304)")
        let detected = events.compactMap { if case .releaseDetected(let r) = $0 { r } else { nil } }
        #expect(detected.map(\.version) == ["2.0.0"])
        #expect(detected.first?.feedURL.hasSuffix("/feed/app") == true)
        #expect(await ledger.records.map(\.version) == ["2.0.0"])
        #expect(events.allSatisfy { $0.event == .releaseDetected })
    }

    @Test func hostileVersionsAreRejectedOnceAndNeverRecorded() async throws {
        let ledger = MemoryLedger()
        let hostile = "$(reboot)".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let (events, _) = try await watch(["app": spec("/feed/app?v=\(hostile)")], ledger: ledger, polls: 2)
        let rejected = events.compactMap { if case .candidateRejected(_, let c) = $0 { c } else { nil } }
        #expect(rejected.map(\.shown) == ["$(reboot)"])
        #expect(await ledger.records.allSatisfy { ReleaseSelector.gate($0.version) == nil })
        #expect(await ledger.records.map(\.version) == ["1.0.0"])
    }

    @Test func anOlderVersionThanSeenIsARollbackSuspicionAndNoRelease() async throws {
        let ledger = MemoryLedger([ReleaseRecord(procedure: "app", version: "3.0.0", firstSeen: 0, feedURL: "x")])
        let (events, _) = try await watch(["app": spec("/feed/app")], ledger: ledger, polls: 2)
        #expect(events == [.rollbackSuspected(procedure: "app", offered: "2.0.0", highestSeen: "3.0.0")])
        #expect(events.first?.event == .feedRejected)
        #expect(await ledger.records.count == 1)
    }

    @Test func aLedgerFailureMakesTheNextPollReadTheDocumentAgain() async throws {
        let ledger = MemoryLedger()
        await ledger.setFailing(true)
        let (events, stats) = try await watch(["app": spec("/feed/app")], ledger: ledger, polls: 2)
        #expect(events.contains { if case .ledgerFailed = $0 { true } else { false } })
        #expect(events.filter { if case .ledgerFailed = $0 { true } else { false } }.count >= 2)
        #expect((stats.counts["/feed/app"] ?? 0) >= 2)
    }

    @Test func aBrokenFeedIsReportedOnce() async throws {
        let ledger = MemoryLedger()
        let (events, stats) = try await watch(["app": spec("/status/404")], ledger: ledger, polls: 1)
        #expect(events.count == 1)
        guard case .feedBroken(let p, let e) = events.first else {
            Issue.record("expected feed.broken, got \(events)")
            return
        }
        #expect(p == "app" && e.kind == "http_status")
        #expect(events.first?.event == .feedBroken)
        #expect((stats.counts["/status/404"] ?? 0) == 1, "backoff is 30-60 s after the first failure")
    }
}
