// Status, windows, reload and audit on the wire.

/// `GET /v1/status`: the daemon's health at a glance.
public struct StatusResponse: Hashable, Sendable, Codable {
    public var daemonVersion: String
    public var protocolVersion: String
    public var startedAt: Int64
    public var now: Int64
    public var procedures: Int
    public var hosts: Int
    public var tenants: Int
    /// Rollouts not in a final phase.
    public var activeRollouts: Int
    /// Names of the windows open now.
    public var openWindows: [String]
    /// Rollouts that wait for a person (approval, halt, pause) or have hosts in `unknown`.
    public var attention: [RolloutInfo]
    public var lastReloadAt: Int64?
    /// Problems of the last load or reload (`file:line:column: message`); the last good set keeps running.
    public var problems: [String]
    /// Hosts with a reboot pending (an install said they must restart); absent when none.
    public var rebootsPending: Int?

    public init(
        daemonVersion: String, protocolVersion: String = ITVProtocolVersion.current, startedAt: Int64, now: Int64,
        procedures: Int, hosts: Int, tenants: Int, activeRollouts: Int, openWindows: [String],
        attention: [RolloutInfo], lastReloadAt: Int64? = nil, problems: [String] = [], rebootsPending: Int? = nil
    ) {
        self.rebootsPending = rebootsPending
        self.daemonVersion = daemonVersion
        self.protocolVersion = protocolVersion
        self.startedAt = startedAt
        self.now = now
        self.procedures = procedures
        self.hosts = hosts
        self.tenants = tenants
        self.activeRollouts = activeRollouts
        self.openWindows = openWindows
        self.attention = attention
        self.lastReloadAt = lastReloadAt
        self.problems = problems
    }
}

/// One patch window.
public struct WindowInfo: Hashable, Sendable, Codable {
    public var name: String
    public var open: Bool
    public var openUntil: Int64?
    /// How long `window open` keeps it open without `--for`.
    public var defaultDurationSeconds: Int64
    public var changedBy: String?
    public var changedAt: Int64?
    /// The tenants whose `windows:` name this window (their hosts run only while it is open); absent when no
    /// tenant names it. Added after the first protocol version.
    public var tenants: [String]?

    public init(
        name: String, open: Bool, openUntil: Int64? = nil, defaultDurationSeconds: Int64, changedBy: String? = nil,
        changedAt: Int64? = nil, tenants: [String]? = nil
    ) {
        self.name = name
        self.open = open
        self.openUntil = openUntil
        self.defaultDurationSeconds = defaultDurationSeconds
        self.changedBy = changedBy
        self.changedAt = changedAt
        self.tenants = tenants
    }
}

/// `GET /v1/windows`.
public struct WindowListResponse: Hashable, Sendable, Codable {
    public var windows: [WindowInfo]

    public init(windows: [WindowInfo]) { self.windows = windows }
}

/// The answer to `window open` and `window close`.
public struct WindowActionResponse: Hashable, Sendable, Codable {
    public var window: WindowInfo
    public var message: String

    public init(window: WindowInfo, message: String) {
        self.window = window
        self.message = message
    }
}

/// `POST /v1/reload`. A reload with problems keeps the last good playbooks and inventory (`ok` false).
public struct ReloadResponse: Hashable, Sendable, Codable {
    public var ok: Bool
    public var procedures: Int
    public var hosts: Int
    /// `file:line:column: message` per problem.
    public var problems: [String]
    public var reloadedAt: Int64
    /// Reloaded, but not all of it is fresh: an `ldap:` source whose directory could not be reached gave the
    /// hosts read from it last; absent when there is nothing to say.
    public var warnings: [String]?

    public init(ok: Bool, procedures: Int, hosts: Int, problems: [String], reloadedAt: Int64) {
        self.ok = ok
        self.procedures = procedures
        self.hosts = hosts
        self.problems = problems
        self.reloadedAt = reloadedAt
    }
}

/// One audited action: who did what, when, to what, with what outcome.
public struct AuditEntry: Hashable, Sendable, Codable {
    public var id: Int64?
    public var at: Int64
    public var user: String
    public var uid: UInt32
    /// Stable action name: `rollout.start`, `rollout.approve`, `window.open`, `permission.denied`, ...
    public var action: String
    /// `rollout 12`, `window evening`, or a route for a denied request.
    public var target: String
    public var comment: String?
    /// `ok`, `denied`, or `error: <kind>`.
    public var outcome: String

    public init(
        id: Int64? = nil, at: Int64, user: String, uid: UInt32, action: String, target: String,
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

/// `GET /v1/audit`.
public struct AuditResponse: Hashable, Sendable, Codable {
    /// Oldest first.
    public var entries: [AuditEntry]
    /// Set when older entries match the request too: the `before` of the next page (the oldest id here).
    public var nextBefore: Int64?

    public init(entries: [AuditEntry], nextBefore: Int64? = nil) {
        self.entries = entries
        self.nextBefore = nextBefore
    }
}
