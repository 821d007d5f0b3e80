/// The events a notification sink can subscribe to (`notify[].events` in itvd.yaml). Raw values are the
/// journal's `ITV_EVENT` names where one exists, and the `event` of the webhook body.
public enum NotifyEvent: String, Hashable, Sendable, CaseIterable, Codable {
    case releaseDetected = "release.detected"
    case rolloutStarted = "rollout.started"
    case waveWaiting = "wave.waiting"
    case waveApproved = "wave.approved"
    case rolloutHalted = "rollout.halted"
    case rolloutAborted = "rollout.aborted"
    case rolloutSucceeded = "rollout.succeeded"
    case rolloutRolledBack = "rollout.rolled_back"
    case rolloutFailed = "rollout.failed"
    /// The rollout ended with unreached hosts.
    case rolloutIncomplete = "rollout.incomplete"
    case feedBroken = "feed.broken"
    case hostkeyMismatch = "hostkey.mismatch"
    /// A release's artifact failed verification (checksum, signature, size, redirect): the release is rejected.
    case artifactRejected = "artifact.rejected"
    /// Sent by `itvctl notify test NAME` only (never subscribed to).
    case test = "notify.test"

    /// What `events: [all]` means.
    public static var subscribable: [NotifyEvent] { allCases.filter { $0 != .test } }
}

/// Where notifications go.
public enum NotifySinkKind: String, Hashable, Sendable, Codable {
    case webhook
    case email
}

/// One `notify:` entry of itvd.yaml.
public struct NotifySink: Hashable, Sendable {
    public var name: String
    public var kind: NotifySinkKind
    public var events: Set<NotifyEvent>
    /// Only events touching one of these tenants (nil: every event). Events without a tenant (a feed that
    /// broke) go to every sink.
    public var tenants: [String]?
    /// webhook: the URL; email: the SMTP server (`smtp://host:587` with STARTTLS, or `smtps://host:465`).
    public var url: String
    /// webhook: file holding the HMAC-SHA256 key (mode 0600 or stricter).
    public var secretFile: String?
    /// email: sender and recipients.
    public var from: String?
    public var to: [String]
    /// email: `user:password`, mode 0600 or stricter.
    public var credentialsFile: String?
    /// Allow `http://` webhooks and SMTP without TLS.
    public var allowPlain: Bool

    public init(
        name: String, kind: NotifySinkKind, events: Set<NotifyEvent>, tenants: [String]? = nil, url: String,
        secretFile: String? = nil, from: String? = nil, to: [String] = [], credentialsFile: String? = nil,
        allowPlain: Bool = false
    ) {
        self.name = name
        self.kind = kind
        self.events = events
        self.tenants = tenants
        self.url = url
        self.secretFile = secretFile
        self.from = from
        self.to = to
        self.credentialsFile = credentialsFile
        self.allowPlain = allowPlain
    }

    /// Does this sink want `event` touching `tenants`?
    public func wants(_ event: NotifyEvent, tenants touched: [String]) -> Bool {
        guard event == .test || events.contains(event) else { return false }
        guard let tenants, !touched.isEmpty else { return true }
        return touched.contains { tenants.contains($0) }
    }
}
