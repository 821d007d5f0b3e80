import Foundation
import ITVCore
import Logging
import Synchronization

/// Why a delivery failed, in words for `itvctl notify list` and the journal.
public struct NotifyDeliveryError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Sends one notification to one sink (webhook over HTTPS, mail over SMTP). Blocking work runs on the
/// adapter's own threads; the call returns when the receiver accepted it or the attempt failed.
public protocol NotificationTransport: Sendable {
    func deliver(_ notification: NotifyMessage, payload: String, to sink: NotifySink) async
        -> Result<Void, NotifyDeliveryError>
}

/// Retry timing of the senders.
public struct NotifyPolicy: Hashable, Sendable {
    /// The wait after the first failure, doubled per further failure up to `maxBackoff` (seconds).
    public var baseBackoff: Double = 60
    public var maxBackoff: Double = 3_600
    /// A notification not delivered this long after its event is given up (`notify.dropped`).
    public var giveUpAfter: Double = 24 * 3_600
    /// Entries read from the store at a time: what a sender holds in memory.
    public var batch: Int = 20
    /// A sender looks at the store at least this often even without a wake-up (seconds).
    public var idlePoll: Double = 30

    public init() {}

    /// The wait after `failures` consecutive failures, with ±20 % jitter so that many daemons (or sinks)
    /// do not retry in step.
    public func backoff<R: RandomNumberGenerator>(failures: Int, using rng: inout R) -> Double {
        let exponent = Double(max(0, min(failures - 1, 30)))
        let plain = min(baseBackoff * pow(2, exponent), maxBackoff)
        return plain * Double.random(in: 0.8...1.2, using: &rng)
    }
}

/// Wakes a sender when the engine committed an outbox record for its sink. A wake-up that comes while the
/// sender is busy is kept (one), so none is lost.
public final class OutboxWaker: Sendable {
    private let signals: Mutex<[String: WakeSignal]> = Mutex([:])

    public init() {}

    private func signal(_ sink: String) -> WakeSignal {
        signals.withLock { all in
            if let s = all[sink] { return s }
            let s = WakeSignal()
            all[sink] = s
            return s
        }
    }

    public func wake(_ sinks: some Sequence<String>) {
        for sink in sinks { signal(sink).signal() }
    }

    /// Returns at the next wake-up of `sink` (at once if one came meanwhile), or when cancelled.
    func wait(_ sink: String) async { await signal(sink).wait() }
}

/// Delivers the outbox: one loop per sink, so that a slow or dead sink never delays another (or the
/// rollouts, which only commit records). At least once: an entry leaves `pending` only after the receiver
/// accepted it (or after `giveUpAfter`); a crash between acceptance and the commit sends it again, with the
/// same id. After a failure the sink's loop waits out the backoff before trying anything of that sink
/// again, so a dead receiver gets one attempt per backoff, not one per waiting notification; entries are
/// taken in the order they are due, so one that a receiver keeps refusing does not hold up the others.
public struct OutboxSender: Sendable {
    let store: any RolloutStore & OutboxStore
    let sinks: [NotifySink]
    let transports: [NotifySinkKind: any NotificationTransport]
    let waker: OutboxWaker
    let clock: any EngineClock
    let policy: NotifyPolicy
    let logger: Logger

    public init(
        store: any RolloutStore & OutboxStore, sinks: [NotifySink],
        transports: [NotifySinkKind: any NotificationTransport], waker: OutboxWaker, clock: any EngineClock,
        policy: NotifyPolicy, logger: Logger
    ) {
        self.store = store
        self.sinks = sinks
        self.transports = transports
        self.waker = waker
        self.clock = clock
        self.policy = policy
        self.logger = logger
    }

    /// Runs until cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for sink in sinks {
                group.addTask { await self.loop(sink) }
            }
        }
    }

    func loop(_ sink: NotifySink) async {
        var rng = SystemRandomNumberGenerator()
        var failures = 0
        while !Task.isCancelled {
            var wait = policy.idlePoll
            do {
                let now = clock.now()
                let due = try await store.dueOutbox(sink: sink.name, now: now, limit: policy.batch)
                var failed = false
                for entry in due where !Task.isCancelled {
                    switch try await attempt(entry, sink: sink, failures: failures, rng: &rng) {
                    case .delivered:
                        failures = 0
                    case .dropped:
                        break
                    case .failed(let backoff):
                        failures += 1
                        wait = backoff
                        failed = true
                    }
                    if failed { break }
                }
                if failed {
                    // The whole sink waits: one attempt per backoff, whatever is queued behind.
                    try? await clock.sleep(seconds: wait)
                    continue
                }
                if due.count == policy.batch { continue }  // more may be due
                if let next = try await store.nextOutboxDue(sink: sink.name) {
                    wait = min(wait, max(0, Double(next - clock.now()) / 1000))
                }
            } catch {
                logger.error(
                    "notify \(sink.name): cannot read the outbox: \(error)", metadata: ["sink": "\(sink.name)"])
            }
            await sleep(wait, orUntilWoken: sink.name)
        }
    }

    enum Attempt {
        case delivered
        case dropped
        case failed(backoff: Double)
    }

    func attempt(_ entry: OutboxEntry, sink: NotifySink, failures: Int, rng: inout SystemRandomNumberGenerator)
        async throws -> Attempt
    {
        let now = clock.now()
        let meta: Logger.Metadata = ["sink": "\(sink.name)", "notification": "\(entry.id)"]
        if Double(now - entry.createdAt) / 1000 > policy.giveUpAfter {
            let limit =
                policy.giveUpAfter >= 3_600 ? "\(Int(policy.giveUpAfter / 3_600)) h" : "\(Int(policy.giveUpAfter)) s"
            let why = "not delivered within \(limit): \(entry.lastError ?? "never tried")"
            try await store.commit([.outboxAttempt(id: entry.id, sink: sink.name, .dropped(at: now, error: why))])
            logger.error(
                "notify \(sink.name): \(entry.event) notification \(entry.id) given up: \(why)",
                metadata: meta.merging(["event": "\(ITVEvent.notifyDropped.rawValue)"]) { a, _ in a })
            return .dropped
        }
        guard let notification = NotifyMessage.decode(entry.payload), let transport = transports[sink.kind] else {
            let why = "the stored notification cannot be read"
            try await store.commit([.outboxAttempt(id: entry.id, sink: sink.name, .dropped(at: now, error: why))])
            logger.error(
                "notify \(sink.name): notification \(entry.id) given up: \(why)",
                metadata: meta.merging(["event": "\(ITVEvent.notifyDropped.rawValue)"]) { a, _ in a })
            return .dropped
        }
        switch await transport.deliver(notification, payload: entry.payload, to: sink) {
        case .success:
            try await store.commit([.outboxAttempt(id: entry.id, sink: sink.name, .delivered(at: clock.now()))])
            logger.info(
                "notify \(sink.name): \(entry.event) notification \(entry.id) delivered", metadata: meta)
            return .delivered
        case .failure(let error):
            let attempts = entry.attempts + 1
            let backoff = policy.backoff(failures: max(attempts, failures + 1), using: &rng)
            let next = clock.now() + EpochMillis(backoff * 1000)
            try await store.commit([
                .outboxAttempt(
                    id: entry.id, sink: sink.name,
                    .failed(at: clock.now(), attempts: attempts, nextAt: next, error: error.message))
            ])
            let line =
                "notify \(sink.name): delivery of \(entry.event) notification \(entry.id) failed (attempt "
                + "\(attempts)), next try in \(Int(backoff)) s: \(error.message)"
            logger.warning(
                "\(line)",
                metadata: meta.merging(["event": "\(ITVEvent.notifyFailed.rawValue)"]) { a, _ in a })
            return .failed(backoff: backoff)
        }
    }

    func sleep(_ seconds: Double, orUntilWoken sink: String) async {
        let waker = self.waker
        let clock = self.clock
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await waker.wait(sink) }
            group.addTask { try? await clock.sleep(seconds: seconds) }
            await group.next()
            group.cancelAll()
        }
    }
}
