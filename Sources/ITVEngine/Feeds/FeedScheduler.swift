import Foundation

/// How politely feeds are polled.
public struct FeedPolicy: Hashable, Sendable {
    /// Requests at a time to one remote host.
    public var maxPerHost: Int = 2
    /// Requests at a time overall.
    public var maxInFlight: Int = 16
    /// Each poll interval is drawn from `every * (1 ± jitter)`, so feeds added together drift apart.
    public var jitter: Double = 0.1
    /// A newly added feed is first polled within this spread (so 300 feeds do not fire at once).
    public var initialSpread: Duration = .seconds(30)
    /// The wait after the first failure; doubled for each further consecutive failure, up to `maxBackoff`.
    public var baseBackoff: Duration = .seconds(60)
    public var maxBackoff: Duration = .seconds(6 * 3_600)
    /// `Retry-After` is honoured up to this much.
    public var maxRetryAfter: Duration = .seconds(6 * 3_600)
    /// Consecutive failures after which a feed counts as broken (and is reported once).
    public var failuresBeforeBroken: Int = 1

    public init() {}
}

/// How one poll ended, for scheduling.
public enum FeedPollOutcome: Hashable, Sendable {
    case succeeded
    case failed(FeedPollError, retryAfter: RetryAfter?)
}

/// Why a poll failed: a fetch error or a parse error, with its stable kind.
public struct FeedPollError: Error, Hashable, Sendable, CustomStringConvertible {
    public var kind: String
    public var message: String

    public init(kind: String, message: String) {
        self.kind = kind
        self.message = message
    }

    public init(_ e: FeedFetchError) { self.init(kind: e.kind.rawValue, message: e.message) }
    public init(_ e: FeedParseError) { self.init(kind: e.kind.rawValue, message: e.message) }

    public var description: String { "\(kind): \(message)" }
}

/// A change of a feed's health, reported once per change (never on every poll).
public enum FeedHealthChange: Hashable, Sendable {
    case broke(FeedPollError)
    case recovered
}

/// The scheduling decisions of the feed watcher, as a pure value: time is passed in, jitter comes from the
/// injected generator, nothing sleeps or fetches here.
public struct FeedScheduler<RNG: RandomNumberGenerator & Sendable>: Sendable {
    struct Feed: Sendable {
        var host: String
        var every: Duration
        var nextDue: Date
        var failures = 0
        var broken = false
        var inFlight = false
    }

    public let policy: FeedPolicy
    private var rng: RNG
    private var feeds: [String: Feed] = [:]
    private var perHost: [String: Int] = [:]
    private var inFlight = 0

    public init(policy: FeedPolicy = FeedPolicy(), rng: RNG) {
        self.policy = policy
        self.rng = rng
    }

    public var feedIDs: [String] { feeds.keys.sorted() }

    /// Adds (or re-times) a feed; its first poll falls at a random point of the initial spread.
    public mutating func add(_ id: String, url: String, every: Duration, now: Date) {
        let spread = seconds(min(policy.initialSpread, every))
        let first = now.addingTimeInterval(spread > 0 ? Double.random(in: 0..<spread, using: &rng) : 0)
        if var f = feeds[id] {
            f.every = every
            f.nextDue = min(f.nextDue, first)
            feeds[id] = f
        } else {
            feeds[id] = Feed(host: Self.host(of: url), every: every, nextDue: first)
        }
    }

    public mutating func remove(_ id: String) {
        guard let f = feeds.removeValue(forKey: id) else { return }
        if f.inFlight { release(f.host) }
    }

    /// `itvctl feed check`: due now (still within the host and global limits).
    public mutating func pollSoon(_ ids: [String], now: Date) {
        for id in ids where feeds[id] != nil { feeds[id]?.nextDue = now }
    }

    /// The feeds to start now, earliest due first, within the per-host and global limits; they count as
    /// in flight until `finished`.
    public mutating func takeDue(now: Date) -> [String] {
        // Repeated linear scans rather than a sort: after a poll ends there is usually one free slot, and this
        // runs once per finished poll (300 feeds: a few hundred thousand cheap steps per cycle, not a sort each).
        var started: [String] = []
        while inFlight < policy.maxInFlight {
            var best: (id: String, due: Date)?
            for (id, f) in feeds where !f.inFlight && f.nextDue <= now {
                guard perHost[f.host, default: 0] < policy.maxPerHost else { continue }
                if let b = best, (b.due, b.id) <= (f.nextDue, id) { continue }
                best = (id, f.nextDue)
            }
            guard let pick = best, let f = feeds[pick.id] else { break }
            perHost[f.host, default: 0] += 1
            inFlight += 1
            feeds[pick.id]?.inFlight = true
            started.append(pick.id)
        }
        return started
    }

    /// When something may next be started (nil: nothing is waiting). Feeds held back by a limit wait for a
    /// `finished`, which the caller answers with another `takeDue`.
    public func nextWake() -> Date? {
        feeds.values.filter { !$0.inFlight }.map(\.nextDue).min()
    }

    /// Records how a poll ended and decides the next one. Returns the health change to report, if any.
    public mutating func finished(_ id: String, _ outcome: FeedPollOutcome, now: Date) -> FeedHealthChange? {
        guard var f = feeds[id] else { return nil }
        if f.inFlight { release(f.host) }
        f.inFlight = false
        var change: FeedHealthChange?
        switch outcome {
        case .succeeded:
            if f.broken { change = .recovered }
            f.failures = 0
            f.broken = false
            let every = seconds(f.every)
            f.nextDue = now.addingTimeInterval(
                every * (1 + Double.random(in: -policy.jitter...policy.jitter, using: &rng)))
        case .failed(let error, let retryAfter):
            f.failures += 1
            if !f.broken, f.failures >= policy.failuresBeforeBroken {
                f.broken = true
                change = .broke(error)
            }
            let exponent = Double(min(f.failures - 1, 30))
            let backoff = min(seconds(policy.baseBackoff) * pow(2, exponent), seconds(policy.maxBackoff))
            // "Equal jitter": half the backoff fixed, half random, so failing feeds spread out.
            var wait = backoff / 2 + Double.random(in: 0...(backoff / 2), using: &rng)
            if let retryAfter {
                wait = max(wait, min(seconds(retryAfter.delay(from: now)), seconds(policy.maxRetryAfter)))
            }
            f.nextDue = now.addingTimeInterval(wait)
        }
        feeds[id] = f
        return change
    }

    /// A poll that was abandoned (shutdown): frees its slot, counts neither as success nor failure.
    public mutating func abandoned(_ id: String) {
        guard let f = feeds[id], f.inFlight else { return }
        release(f.host)
        feeds[id]?.inFlight = false
    }

    /// Diagnostics and tests: when the feed is next due, and whether it counts as broken.
    public func state(of id: String) -> (nextDue: Date, failures: Int, broken: Bool, inFlight: Bool)? {
        feeds[id].map { ($0.nextDue, $0.failures, $0.broken, $0.inFlight) }
    }

    private mutating func release(_ host: String) {
        perHost[host, default: 1] -= 1
        if perHost[host] == 0 { perHost[host] = nil }
        inFlight -= 1
    }

    /// The remote host a URL's requests count against (lower-cased; `file://` URLs share one "host").
    public static func host(of url: String) -> String {
        URLComponents(string: url)?.host?.lowercased() ?? url.lowercased()
    }

    private func seconds(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) + Double(atto) / 1e18
    }
}
