import Foundation
import ITVCore
import ITVEngine
import ITVNotify
import ITVProtocol
import ITVStore
import Logging
import ServiceLifecycle

/// The outbox senders, one loop per sink, in the daemon's service group.
struct NotifyService: Service {
    let sender: OutboxSender

    func run() async throws {
        await cancelWhenGracefulShutdown { await sender.run() }
    }
}

/// The daemon's notification plumbing: sinks from itvd.yaml (fixed until a restart), the waker, the
/// transports, and the retry policy (the environment may shorten it for tests:
/// `ITVD_NOTIFY_BACKOFF_BASE`, `ITVD_NOTIFY_BACKOFF_MAX`, `ITVD_NOTIFY_GIVE_UP`, in seconds).
struct NotifySide: Sendable {
    let routing: NotifyRouting
    let transports: [NotifySinkKind: any NotificationTransport]
    let policy: NotifyPolicy

    init(set: LoadedSet, environment: [String: String] = ProcessInfo.processInfo.environment) {
        routing = NotifyRouting(sinks: set.config.notify, waker: OutboxWaker())
        let ca = environment["ITVD_CA_BUNDLE"]
        transports = [
            .webhook: WebhookTransport(caBundle: ca, userAgent: "itvd/\(ITVRelease.version)"),
            .email: MailTransport(caBundle: ca),
        ]
        var policy = NotifyPolicy()
        if let v = environment["ITVD_NOTIFY_BACKOFF_BASE"].flatMap(Double.init), v > 0 {
            policy.baseBackoff = v
            policy.idlePoll = min(policy.idlePoll, max(v, 0.05))
        }
        if let v = environment["ITVD_NOTIFY_BACKOFF_MAX"].flatMap(Double.init), v > 0 { policy.maxBackoff = v }
        if let v = environment["ITVD_NOTIFY_GIVE_UP"].flatMap(Double.init), v > 0 { policy.giveUpAfter = v }
        self.policy = policy
    }

    func sender(store: SQLiteRolloutStore, clock: any EngineClock, logger: Logger) -> OutboxSender {
        OutboxSender(
            store: store, sinks: routing.sinks, transports: transports, waker: routing.waker ?? OutboxWaker(),
            clock: clock, policy: policy, logger: logger)
    }

    static func tenants(of procedure: String, in set: LoadedSet) -> [String] {
        guard let p = set.playbooks.first(where: { $0.id == procedure }) else { return [] }
        return Array(Set(set.inventory.hosts(forTargets: p.targets.map(\.value)).map(\.tenant))).sorted()
    }

    /// `release.detected`, committed with the release record.
    func releaseRecords(set: LoadedSet) -> @Sendable (ReleaseRecord) -> [StoreChange] {
        let routing = self.routing
        return { release in
            let message = NotifyMessage(
                event: .releaseDetected, at: release.firstSeen,
                tenants: NotifySide.tenants(of: release.procedure, in: set), procedure: release.procedure,
                version: release.version,
                message: "new release \(release.procedure) \(release.version) seen in \(release.feedURL)",
                command: "itvctl rollout plan \(release.procedure) --version \(release.version)")
            return routing.records(message, at: release.firstSeen)
        }
    }

    /// `notify test NAME`: a test notification straight to the sink, not through the outbox.
    func test(_ name: String, by user: String, now: EpochMillis) async -> (
        NotifyMessage, Result<Void, NotifyDeliveryError>
    )? {
        guard let sink = routing.sinks.first(where: { $0.name == name }), let transport = transports[sink.kind] else {
            return nil
        }
        let message = NotifyMessage(
            event: .test, at: now, message: "test notification from itvd, sent by \(user) with itvctl notify test")
        return (message, await transport.deliver(message, payload: message.json(), to: sink))
    }
}
