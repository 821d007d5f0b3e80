import Foundation
import ITVCore

/// Time as the engine sees it: the wall clock for records, the monotonic clock for waiting.
public protocol EngineClock: Sendable {
    /// Wall-clock milliseconds since the epoch (for records and window ends).
    func now() -> EpochMillis
    /// Waits on the monotonic clock (bake times, window ends, retries). Throws when cancelled.
    func sleep(seconds: Double) async throws
}

/// The real clocks.
public struct SystemEngineClock: EngineClock {
    public init() {}

    public func now() -> EpochMillis { EpochMillis((Date().timeIntervalSince1970 * 1000).rounded()) }

    public func sleep(seconds: Double) async throws {
        try await ContinuousClock().sleep(for: .milliseconds(Int64(max(0, seconds) * 1000)))
    }
}
