import Foundation
import ITVCore
import ITVEngine
import Testing

@testable import ITVFeeds

/// The ledger port in memory (the SQLite store is tested on its own).
actor MemoryLedger: ReleaseLedger {
    var records: [ReleaseRecord]
    var failing = false

    init(_ records: [ReleaseRecord] = []) { self.records = records }

    struct Down: Error {}

    func releases(procedure: String) throws -> [ReleaseRecord] {
        if failing { throw Down() }
        return records.filter { $0.procedure == procedure }
    }

    func record(_ release: ReleaseRecord) throws {
        if failing { throw Down() }
        records.append(release)
    }

    func setFailing(_ f: Bool) { failing = f }
}

actor EventLog: FeedEventSink {
    var events: [FeedEvent] = []
    func report(_ event: FeedEvent) { events.append(event) }
}

@Suite(.serialized) struct ReleaseDetectorTests {
    private func watch(
        _ feeds: [String: FeedSpec], ledger: MemoryLedger, for duration: Duration
    ) async throws -> (events: [FeedEvent], server: TestServer.Stats) {
        let server = try TestServer()
        defer { server.stop() }
        let fetcher = CurlFeedFetcher(configuration: .init(caBundlePath: server.caPath))
        defer { fetcher.close() }
        let log = EventLog()
        var policy = FeedPolicy()
        policy.initialSpread = .milliseconds(50)
        let watcher = FeedWatcher(
            fetcher: fetcher, parser: FeedExtractor(), delegate: ReleaseDetector(ledger: ledger, sink: log),
            policy: policy)
        var specs: [String: FeedSpec] = [:]
        for (id, spec) in feeds {
            var s = spec
            s.url = server.https(spec.url)
            specs[id] = s
        }
        await watcher.setFeeds(specs)
        let task = Task { await watcher.run() }
        try? await Task.sleep(for: duration)
        task.cancel()
        await task.value
        return (await log.events, try server.stats())
    }

    private func spec(_ path: String) -> FeedSpec {
        FeedSpec(kind: .github, url: path, match: #"^v(?<version>.+)$"#, scheme: .semver, every: TimeSpan(seconds: 1))
    }

    @Test func aNewReleaseIsRecordedAndReportedOnce() async throws {
        let ledger = MemoryLedger()
        let (events, stats) = try await watch(["app": spec("/feed/app")], ledger: ledger, for: .seconds(3))
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
        let (events, _) = try await watch(["app": spec("/feed/app?v=\(hostile)")], ledger: ledger, for: .seconds(3))
        let rejected = events.compactMap { if case .candidateRejected(_, let c) = $0 { c } else { nil } }
        #expect(rejected.map(\.shown) == ["$(reboot)"])
        #expect(await ledger.records.allSatisfy { ReleaseSelector.gate($0.version) == nil })
        #expect(await ledger.records.map(\.version) == ["1.0.0"])
    }

    @Test func anOlderVersionThanSeenIsARollbackSuspicionAndNoRelease() async throws {
        let ledger = MemoryLedger([ReleaseRecord(procedure: "app", version: "3.0.0", firstSeen: 0, feedURL: "x")])
        let (events, _) = try await watch(["app": spec("/feed/app")], ledger: ledger, for: .seconds(2))
        #expect(events == [.rollbackSuspected(procedure: "app", offered: "2.0.0", highestSeen: "3.0.0")])
        #expect(events.first?.event == .feedRejected)
        #expect(await ledger.records.count == 1)
    }

    @Test func aLedgerFailureMakesTheNextPollReadTheDocumentAgain() async throws {
        let ledger = MemoryLedger()
        await ledger.setFailing(true)
        let (events, stats) = try await watch(["app": spec("/feed/app")], ledger: ledger, for: .seconds(3))
        #expect(events.contains { if case .ledgerFailed = $0 { true } else { false } })
        #expect(events.filter { if case .ledgerFailed = $0 { true } else { false } }.count >= 2)
        #expect((stats.counts["/feed/app"] ?? 0) >= 2)
    }

    @Test func aBrokenFeedIsReportedOnce() async throws {
        let ledger = MemoryLedger()
        let (events, stats) = try await watch(["app": spec("/status/404")], ledger: ledger, for: .seconds(2))
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
