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
    /// `sha256_from_feed`: the text the announcing feed entry held at that path (as given: checked when the
    /// artifact is verified); nil when the playbook does not take the digest from the feed, or the entry had none.
    public var feedSHA256: String?

    public init(procedure: String, version: String, firstSeen: EpochMillis, feedURL: String, feedSHA256: String? = nil)
    {
        self.procedure = procedure
        self.version = version
        self.firstSeen = firstSeen
        self.feedURL = feedURL
        self.feedSHA256 = feedSHA256
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

/// What itvd knows about the artifact of one release (`artifact:` playbooks): verified, with the bytes in the
/// cache under `sha256`, or rejected, with why. One record per procedure and version; a later attempt (the
/// vendor replaced the file) overwrites it.
public struct ArtifactRecord: Hashable, Sendable, Codable {
    public enum State: String, Hashable, Sendable, Codable {
        case verified
        case rejected
    }

    public var procedure: String
    public var version: String
    public var url: String
    public var state: State
    /// The file name on the host.
    public var name: String
    public var size: Int64?
    /// Lowercase hex SHA-256 of the verified bytes (nil when rejected).
    public var sha256: String?
    /// `sha256sum`, `json` or `feed`, with `+gpg` or `+minisign` when a signature was checked.
    public var verifiedBy: String?
    /// Rejected: the stable reason (`checksum_mismatch`, `bad_signature`, `missing_entry`, ...) and message.
    public var rejection: String?
    public var message: String?
    /// Rejected after download: the digest the checksums gave and the digest of the bytes.
    public var expected: String?
    public var actual: String?
    public var at: EpochMillis

    public init(
        procedure: String, version: String, url: String, state: State, name: String, size: Int64? = nil,
        sha256: String? = nil, verifiedBy: String? = nil, rejection: String? = nil, message: String? = nil,
        expected: String? = nil, actual: String? = nil, at: EpochMillis
    ) {
        self.procedure = procedure
        self.version = version
        self.url = url
        self.state = state
        self.name = name
        self.size = size
        self.sha256 = sha256
        self.verifiedBy = verifiedBy
        self.rejection = rejection
        self.message = message
        self.expected = expected
        self.actual = actual
        self.at = at
    }
}
