import Foundation
import ITVCore
import ITVEngine

/// A clock that moves only when the test moves it: `now()` stays put, and a sleep returns once `advance`
/// passes its end (or throws when its task is cancelled). A test that shows that nothing happens for a while
/// advances the time instead of sleeping, so it cannot pass because the machine was slow.
final class ManualClock: EngineClock, @unchecked Sendable {
    private struct Sleeper {
        var until: EpochMillis
        var continuation: CheckedContinuation<Void, any Error>
    }

    private let lock = NSLock()
    private var ms: EpochMillis
    private var sleepers: [Int: Sleeper] = [:]
    private var nextID = 0

    init(now: EpochMillis = 1_700_000_000_000) { ms = now }

    func now() -> EpochMillis { lock.withLock { ms } }

    func sleep(seconds: Double) async throws {
        let id = lock.withLock {
            nextID += 1
            return nextID
        }
        let until = now() + EpochMillis((max(0, seconds) * 1000).rounded(.up))
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool = lock.withLock {
                    if until <= ms || Task.isCancelled { return true }
                    sleepers[id] = Sleeper(until: until, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let sleeper = lock.withLock { sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }

    /// Moves the time forward and wakes every sleep that ends by then.
    func advance(seconds: Double) {
        let due: [Sleeper] = lock.withLock {
            ms += EpochMillis((seconds * 1000).rounded())
            let ids = sleepers.filter { $0.value.until <= ms }.map(\.key)
            return ids.compactMap { sleepers.removeValue(forKey: $0) }
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Sleeps waiting for `advance`.
    var sleeping: Int { lock.withLock { sleepers.count } }

    /// When the earliest waiting sleep ends, if any sleep waits.
    var nextWake: EpochMillis? { lock.withLock { sleepers.values.map(\.until).min() } }
}
