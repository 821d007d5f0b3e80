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
