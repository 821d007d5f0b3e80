import Testing

@testable import ITVDaemon

@Suite struct DenialLimiterTests {
    @Test func aBurstPerUserAndMinuteIsAuditedAndTheRestIsCountedIntoTheNextRecord() async {
        let limiter = DenialLimiter(burst: 3, windowSeconds: 60)
        let t0: Int64 = 1_700_000_000_000
        var recorded = 0
        for i in 0..<10 where await limiter.admit(uid: 1001, at: t0 + Int64(i)).record { recorded += 1 }
        #expect(recorded == 3, "three of ten in one minute")
        // Another user has a bucket of its own.
        #expect(await limiter.admit(uid: 1002, at: t0 + 20) == .init(record: true, suppressedBefore: 0))
        // 59.999 s later: still the same window.
        #expect(await limiter.admit(uid: 1001, at: t0 + 59_999) == .init(record: false, suppressedBefore: 7))
        // The next window: recorded, carrying the count of the eight not audited.
        #expect(await limiter.admit(uid: 1001, at: t0 + 60_000) == .init(record: true, suppressedBefore: 8))
        #expect(await limiter.admit(uid: 1001, at: t0 + 60_001) == .init(record: true, suppressedBefore: 0))
        // A clock stepped backwards starts a new window instead of silencing the user for good.
        _ = await limiter.admit(uid: 1001, at: t0 + 60_002)
        #expect(await limiter.admit(uid: 1001, at: t0 + 60_003).record == false)
        #expect(await limiter.admit(uid: 1001, at: t0).record)
    }

    @Test func manyUsersDoNotGrowItWithoutBound() async {
        let limiter = DenialLimiter(burst: 1, windowSeconds: 1)
        for uid in 0..<5_000 { _ = await limiter.admit(uid: UInt32(uid), at: Int64(uid) * 10) }
        // Users whose window passed with nothing to report are forgotten; the newest second's stay.
        #expect(await limiter.trackedUsers <= 1_025)
    }
}
