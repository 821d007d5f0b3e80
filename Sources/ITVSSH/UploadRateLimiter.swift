import Foundation

/// One upload rate for every `stage` of an executor, over all hosts together: a token bucket in which each
/// upload reserves the bytes it is about to send and waits out the debt. Reservations are served in the
/// order they are made, so that many hosts share the rate instead of racing for it.
final class UploadRateLimiter: @unchecked Sendable {
    /// Bytes per second.
    let rate: Double
    /// Bytes that may go out at once after a quiet period.
    let burst: Double
    private let lock = NSLock()
    private var tokens: Double
    private var last: ContinuousClock.Instant

    /// `rate` in bytes per second (at least 1); `burst` at least one chunk.
    init(rate: Int64, burst: Int) {
        self.rate = Double(max(1, rate))
        self.burst = Double(max(1, burst))
        tokens = self.burst
        last = .now
    }

    /// The bytes per `libssh2_sftp_write` call under this rate: a quarter second's worth, in whole SFTP
    /// packets (30,000 bytes), at least one packet and at most `chunk`.
    static func chunk(rate: Int64, chunk: Int) -> Int {
        guard rate > 0 else { return chunk }
        let quarter = Int(min(Int64(chunk), max(30_000, rate / 4)))
        return max(30_000, quarter / 30_000 * 30_000)
    }

    /// Reserves `bytes`; returns how long the caller must wait before sending them. When that is longer than
    /// `limit`, nothing is reserved and nil is returned (the caller's deadline comes first).
    func reserve(_ bytes: Int, limit: Duration) -> Duration? {
        lock.lock()
        defer { lock.unlock() }
        let now = ContinuousClock.now
        let elapsed = now - last
        last = now
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(burst, tokens + seconds * rate)
        let after = tokens - Double(bytes)
        let wait = after >= 0 ? 0 : -after / rate
        if Duration.milliseconds(Int64(wait * 1000)) > limit { return nil }
        tokens = after
        return .milliseconds(Int64((wait * 1000).rounded(.up)))
    }
}
