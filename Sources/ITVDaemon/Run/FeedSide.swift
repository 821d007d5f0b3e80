import Foundation
import ITVCore
import ITVEngine
import ITVProtocol
import Logging

/// The daemon's feed delegate: hands documents to the release detector, remembers each feed's last poll
/// (for `itvctl feed check`), journals feed events, and hands detected releases to the engine (`auto_plan`).
actor FeedSide: FeedWatcherDelegate, FeedEventSink {
    struct Poll {
        var at: Date
        var error: FeedPollError?
        var newReleases: [String]
    }

    let logger: Logger
    var detector: ReleaseDetector?
    var polls: [String: Poll] = [:]
    var newSinceLastPoll: [String: [String]] = [:]
    /// When each feed was last read successfully (for the metrics).
    var lastSuccess: [String: Date] = [:]
    /// Called for a detected release: the engine plans it when auto_plan says so.
    var onRelease: (@Sendable (ReleaseRecord) async -> Void)?

    init(logger: Logger) { self.logger = logger }

    func attach(detector: ReleaseDetector, onRelease: @escaping @Sendable (ReleaseRecord) async -> Void) {
        self.detector = detector
        self.onRelease = onRelease
    }

    func feed(_ procedure: String, spec: FeedSpec, offered extraction: FeedExtraction, at: Date) async -> Bool {
        await detector?.feed(procedure, spec: spec, offered: extraction, at: at) ?? false
    }

    func feed(_ procedure: String, broke error: FeedPollError, at: Date) async {
        await detector?.feed(procedure, broke: error, at: at)
    }

    func feedRecovered(_ procedure: String, at: Date) async { await detector?.feedRecovered(procedure, at: at) }

    func feedPolled(_ procedure: String, outcome: FeedPollOutcome, at: Date) async {
        var error: FeedPollError?
        if case .failed(let e, _) = outcome { error = e } else { lastSuccess[procedure] = at }
        polls[procedure] = Poll(
            at: at, error: error, newReleases: newSinceLastPoll.removeValue(forKey: procedure) ?? [])
    }

    func feed(_ procedure: String, validators: FeedValidators) async {
        await detector?.feed(procedure, validators: validators)
    }

    func report(_ event: FeedEvent) async {
        var meta: Logger.Metadata = ["event": "\(event.event.rawValue)", "procedure": "\(event.procedure)"]
        switch event {
        case .releaseDetected(let r):
            meta["version"] = "\(r.version)"
            newSinceLastPoll[r.procedure, default: []].append(r.version)
            logger.notice("\(event.message)", metadata: meta)
            await onRelease?(r)
        case .candidateRejected, .candidatesRejected, .rollbackSuspected:
            logger.warning("\(event.message)", metadata: meta)
        case .feedBroken(let procedure, let error):
            logger.error("\(event.message)", metadata: meta)
            await onBroken?(procedure, error)
        case .ledgerFailed:
            logger.error("\(event.message)", metadata: meta)
        case .feedRecovered:
            logger.notice("\(event.message)", metadata: meta)
        }
    }

    func lastPoll(_ procedure: String) -> Poll? { polls[procedure] }

    /// Called once per feed that broke (as journaled), for `feed.broken` notifications.
    var onBroken: (@Sendable (String, FeedPollError) async -> Void)?

    func attachNotify(_ onBroken: @escaping @Sendable (String, FeedPollError) async -> Void) {
        self.onBroken = onBroken
    }

    /// Procedure -> (last poll succeeded, last success in epoch seconds).
    func health() -> [String: (up: Bool, lastSuccess: Double?)] {
        Dictionary(
            uniqueKeysWithValues: polls.map { id, poll in
                (id, (up: poll.error == nil, lastSuccess: lastSuccess[id]?.timeIntervalSince1970))
            })
    }
}
