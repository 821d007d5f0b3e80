import Foundation
import ITVCore
import ITVEngine
import Testing

@Suite struct SchedulerTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func scheduler(_ configure: (inout FeedPolicy) -> Void = { _ in }) -> FeedScheduler<SplitMix64> {
        var policy = FeedPolicy()
        configure(&policy)
        return FeedScheduler(policy: policy, rng: SplitMix64(seed: 42))
    }

    @Test func threeHundredFeedsDoNotFireTogether() {
        var s = scheduler()
        for i in 0..<300 { s.add("f\(i)", url: "https://h\(i % 7).example/feed", every: .seconds(3_600), now: t0) }
        let dues = Set((0..<300).compactMap { s.state(of: "f\($0)")?.nextDue })
        #expect(dues.count > 250, "first polls should be spread, got \(dues.count) distinct times")
        #expect(dues.allSatisfy { $0 >= t0 && $0 < t0.addingTimeInterval(30) })
        // After a success each interval is every ± 10%, different per feed.
        var next: Set<Date> = []
        let all = s.takeDue(now: t0.addingTimeInterval(31))
        for id in all {
            _ = s.finished(id, .succeeded, now: t0.addingTimeInterval(31))
            let due = s.state(of: id)?.nextDue ?? t0
            #expect(due.timeIntervalSince(t0) >= 31 + 3_240 && due.timeIntervalSince(t0) <= 31 + 3_960)
            next.insert(due)
        }
        #expect(next.count > 10)
    }

    @Test func perHostAndGlobalLimitsHold() {
        var s = scheduler { $0.maxInFlight = 5 }
        for i in 0..<6 { s.add("a\(i)", url: "https://a.example/\(i)", every: .seconds(60), now: t0) }
        for i in 0..<6 { s.add("b\(i)", url: "https://B.example/\(i)", every: .seconds(60), now: t0) }
        s.add("c", url: "https://c.example/x", every: .seconds(60), now: t0)
        let later = t0.addingTimeInterval(100)
        let started = s.takeDue(now: later)
        #expect(started.count == 5)
        #expect(started.filter { $0.hasPrefix("a") }.count <= 2)
        #expect(started.filter { $0.hasPrefix("b") }.count <= 2)
        // Nothing more while all five are in flight; one finishing frees one slot on its host.
        #expect(s.takeDue(now: later).isEmpty)
        let a = started.first { $0.hasPrefix("a") } ?? ""
        _ = s.finished(a, .succeeded, now: later)
        let more = s.takeDue(now: later)
        #expect(more.count == 1)
    }

    @Test func failuresBackOffExponentiallyWithJitterAndReportOnce() {
        var s = scheduler()
        s.add("f", url: "https://h.example/f", every: .seconds(3_600), now: t0)
        var t = t0.addingTimeInterval(31)
        var waits: [Double] = []
        var changes: [FeedHealthChange] = []
        let error = FeedPollError(kind: "timeout", message: "deadline passed")
        for _ in 0..<6 {
            #expect(s.takeDue(now: t) == ["f"])
            if let c = s.finished("f", .failed(error, retryAfter: nil), now: t) { changes.append(c) }
            let due = s.state(of: "f")?.nextDue ?? t
            waits.append(due.timeIntervalSince(t))
            t = due
        }
        #expect(changes == [.broke(error)])
        for (n, w) in waits.enumerated() {
            let full = 60 * pow(2, Double(n))
            #expect(w >= full / 2 && w <= full, "wait \(n) = \(w)")
        }
        #expect(s.takeDue(now: t) == ["f"])
        #expect(s.finished("f", .succeeded, now: t) == .recovered)
        #expect(s.takeDue(now: t.addingTimeInterval(4_000)) == ["f"])
        #expect(s.finished("f", .succeeded, now: t.addingTimeInterval(4_000)) == nil)
    }

    @Test func retryAfterIsHonouredInBothFormsAndCapped() {
        var s = scheduler { $0.maxRetryAfter = .seconds(7_200) }
        let err = FeedPollError(kind: "http_status", message: "503")
        s.add("f", url: "https://h.example/f", every: .seconds(60), now: t0)
        var t = t0.addingTimeInterval(60)
        _ = s.takeDue(now: t)
        _ = s.finished("f", .failed(err, retryAfter: .seconds(1_000)), now: t)
        #expect((s.state(of: "f")?.nextDue.timeIntervalSince(t) ?? 0) >= 1_000)
        t = t.addingTimeInterval(1_000)
        _ = s.takeDue(now: t)
        _ = s.finished("f", .failed(err, retryAfter: .date(t.addingTimeInterval(1_800))), now: t)
        #expect((s.state(of: "f")?.nextDue.timeIntervalSince(t) ?? 0) >= 1_800)
        t = t.addingTimeInterval(1_800)
        _ = s.takeDue(now: t)
        _ = s.finished("f", .failed(err, retryAfter: .seconds(10_000_000)), now: t)
        let wait = s.state(of: "f")?.nextDue.timeIntervalSince(t) ?? 0
        #expect(wait >= 7_200 && wait < 7_300)
    }

    @Test func sameSeedSameSchedule() {
        func run() -> [Date] {
            var s = scheduler()
            for i in 0..<20 { s.add("f\(i)", url: "https://h.example/\(i)", every: .seconds(600), now: t0) }
            return (0..<20).compactMap { s.state(of: "f\($0)")?.nextDue }
        }
        #expect(run() == run())
    }
}
