import Foundation
import ITVCore
import ITVEngine
import ITVTestSupport
import Testing

@testable import ITVFeeds

/// Records what the watcher reports, with the time it arrived.
actor Recorder: FeedWatcherDelegate {
    var offered: [(String, [String], ContinuousClock.Instant)] = []
    var broke: [(String, FeedPollError)] = []
    var recovered: [String] = []
    var polled = 0
    var polls: [(String, ContinuousClock.Instant)] = []
    var validators: [String: FeedValidators] = [:]

    func feed(_ procedure: String, spec: FeedSpec, offered extraction: FeedExtraction, at: Date) -> Bool {
        offered.append((procedure, extraction.candidates, ContinuousClock.now))
        return true
    }
    func feed(_ procedure: String, broke error: FeedPollError, at: Date) { broke.append((procedure, error)) }
    func feedRecovered(_ procedure: String, at: Date) { recovered.append(procedure) }
    func feedPolled(_ procedure: String, outcome: FeedPollOutcome, at: Date) {
        polled += 1
        polls.append((procedure, ContinuousClock.now))
    }
    func polls(of procedure: String) -> [ContinuousClock.Instant] { polls.filter { $0.0 == procedure }.map(\.1) }
    func feed(_ procedure: String, validators v: FeedValidators) { validators[procedure] = v }

    func offeredIDs() -> Set<String> { Set(offered.map(\.0)) }
}

private func fastPolicy() -> FeedPolicy {
    var p = FeedPolicy()
    p.initialSpread = .milliseconds(50)
    p.baseBackoff = .milliseconds(400)
    return p
}

/// Runs `watcher` until `done` holds or `timeout` passes; cancels it either way.
func run(_ watcher: FeedWatcher, timeout: Duration, until done: @Sendable () async -> Bool) async {
    let task = Task { await watcher.run() }
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline, !(await done()) { try? await Task.sleep(for: .milliseconds(50)) }
    task.cancel()
    await task.value
}

@Suite(.serialized) struct WatcherTests {
    @Test func perHostLimitHoldsWhileOtherHostsProceed() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let fetcher = CurlFeedFetcher(configuration: .init(caBundlePath: server.caPath))
        defer { fetcher.close() }
        let recorder = Recorder()
        let watcher = FeedWatcher(fetcher: fetcher, parser: FeedExtractor(), delegate: recorder, policy: fastPolicy())
        var specs: [String: FeedSpec] = [:]
        for i in 0..<6 {
            specs["slow-\(i)"] = FeedSpec(
                kind: .github, url: server.http("/slow-feed/s\(i)", host: "localhost"), every: TimeSpan(seconds: 3_600),
                allowHTTP: true)
        }
        for i in 0..<4 {
            specs["fast-\(i)"] = FeedSpec(
                kind: .github, url: server.https("/feed/f\(i)"), every: TimeSpan(seconds: 3_600))
        }
        await watcher.setFeeds(specs)
        let start = ContinuousClock.now
        await run(watcher, timeout: .seconds(60)) { await recorder.offeredIDs().count == 10 }
        let offered = await recorder.offered
        #expect(Set(offered.map(\.0)) == Set(specs.keys))
        #expect(offered.allSatisfy { $0.1 == ["v2.0.0", "v1.0.0"] })
        // Six 3 s feeds two at a time on "localhost" take at least three rounds; the other host did not wait.
        // Ordering, not absolute times (the machine may be busy): every feed of the other host was done before
        // the second round of "localhost" ended, although four of its six feeds were due before them.
        let fastDone = offered.filter { $0.0.hasPrefix("fast") }.map(\.2).max() ?? start
        let slowTimes = offered.filter { $0.0.hasPrefix("slow") }.map(\.2)
        #expect(slowTimes.filter { $0 < fastDone }.count <= 2, "feeds on another host waited for the slow host")
        // Six 3 s feeds, two at a time: at least three rounds.
        #expect((slowTimes.max() ?? start) - start >= .milliseconds(8_900))
        let stats = try server.stats()
        #expect(stats.max_concurrent["localhost"] == 2)
    }

    @Test func aFailingFeedBacksOffAndIsReportedOnce() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let fetcher = CurlFeedFetcher(configuration: .init(caBundlePath: server.caPath))
        defer { fetcher.close() }
        let recorder = Recorder()
        let watcher = FeedWatcher(fetcher: fetcher, parser: FeedExtractor(), delegate: recorder, policy: fastPolicy())
        await watcher.setFeeds([
            "broken": FeedSpec(kind: .atom, url: server.https("/status/500"), every: TimeSpan(seconds: 1)),
            "fine": FeedSpec(kind: .atom, url: server.https("/feed/fine"), every: TimeSpan(seconds: 1)),
        ])
        await run(watcher, timeout: .seconds(60)) { await recorder.polls(of: "broken").count >= 4 }
        let attempts = await recorder.polls(of: "broken")
        #expect(attempts.count >= 4)
        // Backoff: with a 0.4 s base, the k-th wait is at least 0.2 * 2^(k-1) s (load can only lengthen it).
        for k in 1..<attempts.count {
            let floor = Duration.milliseconds(200 * (1 << (k - 1)))
            #expect(attempts[k] - attempts[k - 1] >= floor - .milliseconds(20), "wait \(k) too short")
        }
        let stats = try server.stats()
        #expect((stats.counts["/status/500"] ?? 0) == attempts.count)
        let broke = await recorder.broke
        #expect(broke.count == 1)
        #expect(broke.first?.0 == "broken" && broke.first?.1.kind == "http_status")
        // The fine feed's document was read once; after that the server answered 304 and nothing was re-reported.
        #expect(await recorder.offered.filter { $0.0 == "fine" }.count == 1)
        let state = await watcher.state(of: "broken")
        #expect(state?.broken == true && (state?.failures ?? 0) >= 4)
    }

    @Test func hostileVersionsFromAFeedAreRejected() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let fetcher = CurlFeedFetcher(configuration: .init(caBundlePath: server.caPath))
        defer { fetcher.close() }
        let hostile = [
            "1.2;reboot", "$(reboot)", "1.2\nreboot", "\u{FF11}.\u{FF12}", String(repeating: "9", count: 10_240),
        ]
        for (i, version) in hostile.enumerated() {
            let query = version.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let spec = FeedSpec(
                kind: .github, url: server.https("/feed/h\(i)?v=\(query)"), match: #"^v(?<version>[\s\S]+)$"#)
            let r = await fetcher.fetch(FeedRequest(url: spec.url))
            guard case .fetched(let doc) = r else {
                Issue.record("fetch failed: \(r)")
                continue
            }
            let x = try FeedExtractor().extract(doc, spec: spec).get()
            // A text too long to be any version is rejected as the document is read (never kept whole).
            let offered =
                x.candidates.contains(version) || x.rejected.contains { $0.shown.hasPrefix(String(version.prefix(20))) }
            #expect(offered, "the feed should have offered \(version.prefix(20))")
            for candidate in x.candidates where candidate != "1.0.0" {
                #expect(ReleaseSelector.gate(candidate) != nil, "\(candidate.prefix(20)) passed the gate")
            }
        }
    }
}

@Suite(.serialized) struct WatcherShutdownTests {
    @Test func stoppingTheWatcherAbortsSlowPollsWithoutReportingThem() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let fetcher = CurlFeedFetcher(configuration: .init(caBundlePath: server.caPath))
        defer { fetcher.close() }
        let recorder = Recorder()
        var policy = FeedPolicy()
        policy.initialSpread = .milliseconds(10)
        var limits = FeedFetchLimits()
        limits.totalTimeout = .seconds(120)
        let watcher = FeedWatcher(
            fetcher: fetcher, parser: FeedExtractor(), delegate: recorder, policy: policy, limits: limits)
        await watcher.setFeeds(["slow": FeedSpec(kind: .atom, url: server.https("/slow"))])
        let task = Task { await watcher.run() }
        try await Task.sleep(for: .seconds(1))
        let start = ContinuousClock.now
        task.cancel()
        await task.value
        #expect(ContinuousClock.now - start < .seconds(20), "shutdown waited for the slow feed's deadline")
        #expect(await recorder.broke.isEmpty)
        #expect(await watcher.state(of: "slow")?.inFlight == false)
    }
}

@Suite(.serialized) struct WatcherValidatorTests {
    @Test func savedValidatorsMakeTheFirstPollAfterAStartConditional() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let fetcher = CurlFeedFetcher(configuration: .init(caBundlePath: server.caPath))
        defer { fetcher.close() }
        var policy = FeedPolicy()
        policy.initialSpread = .milliseconds(10)
        let specs = ["app": FeedSpec(kind: .github, url: server.https("/feed/app"))]
        // First start: the document is read and its validators are handed out for saving.
        let first = Recorder()
        let w1 = FeedWatcher(fetcher: fetcher, parser: FeedExtractor(), delegate: first, policy: policy)
        await w1.setFeeds(specs)
        await run(w1, timeout: .seconds(20)) { await first.polled >= 1 }
        let saved = try #require(await first.validators["app"])
        #expect(saved.etag != nil && saved.lastModified != nil)
        #expect(await first.offered.count == 1)
        // Second start with the saved validators: 304, nothing to read.
        let second = Recorder()
        let w2 = FeedWatcher(fetcher: fetcher, parser: FeedExtractor(), delegate: second, policy: policy)
        await w2.setFeeds(specs, validators: ["app": saved])
        await run(w2, timeout: .seconds(20)) { await second.polled >= 1 }
        #expect(await second.polled == 1)
        #expect(await second.offered.isEmpty)
    }
}
