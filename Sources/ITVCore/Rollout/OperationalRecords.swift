// Persisted records beside rollouts: audit, releases, drift, windows.

/// One operator action or security event, as the audit trail keeps it.
public struct AuditRecord: Hashable, Sendable, Codable {
    public var id: Int64?
    public var at: EpochMillis
    public var user: String
    public var uid: UInt32
    /// Stable action name: `rollout.start`, `rollout.approve`, `window.open`, `permission.denied`, ...
    public var action: String
    /// What it was done to: `rollout 12`, `window evening`, a route for a denied request.
    public var target: String
    public var comment: String?
    /// `ok`, `denied`, or `error: <kind>`.
    public var outcome: String

    public init(
        id: Int64? = nil, at: EpochMillis, user: String, uid: UInt32, action: String, target: String,
        comment: String? = nil, outcome: String
    ) {
        self.id = id
        self.at = at
        self.user = user
        self.uid = uid
        self.action = action
        self.target = target
        self.comment = comment
        self.outcome = outcome
    }
}

/// A version of a procedure seen in its vendor feed.
public struct ReleaseRecord: Hashable, Sendable, Codable {
    public var procedure: String
    public var version: String
    public var firstSeen: EpochMillis
    public var feedURL: String

    public init(procedure: String, version: String, firstSeen: EpochMillis, feedURL: String) {
        self.procedure = procedure
        self.version = version
        self.firstSeen = firstSeen
        self.feedURL = feedURL
    }
}

/// What `detect` last found for a procedure on a host (nil version: not installed).
public struct HostVersionRecord: Hashable, Sendable, Codable {
    public var host: String
    public var procedure: String
    public var version: String?
    public var seenAt: EpochMillis

    public init(host: String, procedure: String, version: String?, seenAt: EpochMillis) {
        self.host = host
        self.procedure = procedure
        self.version = version
        self.seenAt = seenAt
    }
}

/// A host whose installer said it must restart, and that has not restarted through itvd since: "reboot
/// pending" (one record per host and procedure; a restart through any rollout clears every record of the host).
public struct PendingReboot: Hashable, Sendable, Codable {
    public var host: String
    public var procedure: String
    public var rolloutID: Int64
    public var since: EpochMillis

    public init(host: String, procedure: String, rolloutID: Int64, since: EpochMillis) {
        self.host = host
        self.procedure = procedure
        self.rolloutID = rolloutID
        self.since = since
    }
}

/// A patch window's state: open until a time, or closed.
public struct WindowRecord: Hashable, Sendable, Codable {
    public var name: String
    public var openUntil: EpochMillis?
    public var changedBy: String
    public var changedAt: EpochMillis

    public init(name: String, openUntil: EpochMillis?, changedBy: String, changedAt: EpochMillis) {
        self.name = name
        self.openUntil = openUntil
        self.changedBy = changedBy
        self.changedAt = changedAt
    }

    public func isOpen(at now: EpochMillis) -> Bool { (openUntil ?? 0) > now }
}
