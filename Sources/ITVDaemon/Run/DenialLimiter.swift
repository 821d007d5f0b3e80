import ITVCore

/// Limits how many refused requests of one Unix user are audited. Every refusal is answered, but a local user
/// who loops on the socket must not fill the state store's audit table or the journal: at most `burst`
/// refusals per uid are recorded per `window`; the rest are counted, and the count is recorded with the next
/// refusal that is audited ("and N more").
actor DenialLimiter {
    struct Decision: Equatable {
        /// Whether this refusal is audited.
        var record: Bool
        /// Refusals of this uid not audited since the last one that was.
        var suppressedBefore: Int
    }

    private struct Bucket {
        var windowStart: EpochMillis
        var recorded: Int
        var suppressed: Int
    }

    let burst: Int
    let windowMillis: EpochMillis
    private var buckets: [UInt32: Bucket] = [:]

    init(burst: Int = 10, windowSeconds: Int64 = 60) {
        self.burst = max(1, burst)
        self.windowMillis = max(1, windowSeconds) * 1000
    }

    func admit(uid: UInt32, at now: EpochMillis) -> Decision {
        var bucket = buckets[uid] ?? Bucket(windowStart: now, recorded: 0, suppressed: 0)
        if now - bucket.windowStart >= windowMillis || now < bucket.windowStart {
            bucket.windowStart = now
            bucket.recorded = 0
        }
        let decision: Decision
        if bucket.recorded < burst {
            decision = Decision(record: true, suppressedBefore: bucket.suppressed)
            bucket.recorded += 1
            bucket.suppressed = 0
        } else {
            decision = Decision(record: false, suppressedBefore: bucket.suppressed)
            bucket.suppressed += 1
        }
        buckets[uid] = bucket
        if buckets.count > 1_024 { forgetQuiet(now: now) }
        return decision
    }

    var trackedUsers: Int { buckets.count }

    /// Drops users whose window has passed and who have nothing left to report.
    private func forgetQuiet(now: EpochMillis) {
        buckets = buckets.filter { now - $0.value.windowStart < windowMillis || $0.value.suppressed > 0 }
    }
}
