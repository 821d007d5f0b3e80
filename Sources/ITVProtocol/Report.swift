import ITVCore

/// `GET /v1/report?tenant=T&since=SECONDS&after=HOST&limit=N`: one page of a tenant's report, the hosts in
/// name order. A page holds at most `limit` hosts (default 50, at most 500) with a row per host and procedure
/// that targets it, so that an answer is bounded whatever the size of the tenant (800 hosts x 300 procedures
/// are 16 pages of 15,000 rows); `next_after` is the `after` of the next page. Added after the first
/// protocol version.
public struct ReportRequest: QueryRequest, Hashable, Codable {
    public static let defaultLimit = 50
    public static let maxLimit = 500
    /// Rollouts created within this many seconds are listed when the request does not say (90 days).
    public static let defaultSinceSeconds: Int64 = 90 * 86_400

    public var tenant: String
    /// Rollouts created within this many seconds before now.
    public var sinceSeconds: Int64?
    /// Only hosts whose name sorts after this one (the `next_after` of the previous page).
    public var after: String?
    /// At most this many hosts (1 to `maxLimit`).
    public var limit: Int?

    public init(tenant: String, sinceSeconds: Int64? = nil, after: String? = nil, limit: Int? = nil) {
        self.tenant = tenant
        self.sinceSeconds = sinceSeconds
        self.after = after
        self.limit = limit
    }

    public init(query: [String: String]) throws(APIError) {
        guard let t = query["tenant"], !t.isEmpty, t.unicodeScalars.count <= 256 else {
            throw APIError(.invalidRequest, "query parameter tenant is required (1 to 256 characters)")
        }
        tenant = t
        if let s = query["since"] {
            guard let v = Int64(s), v > 0, v <= 10 * 366 * 86_400 else {
                throw APIError(
                    .invalidRequest,
                    "query parameter since must be seconds (1 to 10 years), not '\(escapedForMessage(s, limit: 64))'")
            }
            sinceSeconds = v
        }
        after = query["after"]
        limit = try PageQuery.limit(query, max: Self.maxLimit)
    }

    public var queryItems: [(String, String)] {
        [("tenant", tenant)] + (sinceSeconds.map { [("since", String($0))] } ?? [])
            + (after.map { [("after", $0)] } ?? []) + (limit.map { [("limit", String($0))] } ?? [])
    }
}

/// A rollout that touched a host (the host was in its plan).
public struct ReportRollout: Hashable, Sendable, Codable {
    public var id: Int64
    public var version: String
    /// The rollout's phase (`succeeded`, `aborted`, ...).
    public var phase: String
    /// What became of the host in it (`succeeded`, `skipped`, `pending`, ...).
    public var hostPhase: String
    public var createdAt: Int64
    public var createdBy: String
    /// The Unix users who approved waves of it (operator approvals), in the order they did.
    public var approvedBy: [String]
    /// The plan the approvals bound to.
    public var planHash: String

    public init(
        id: Int64, version: String, phase: String, hostPhase: String, createdAt: Int64, createdBy: String,
        approvedBy: [String], planHash: String
    ) {
        self.id = id
        self.version = version
        self.phase = phase
        self.hostPhase = hostPhase
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.approvedBy = approvedBy
        self.planHash = planHash
    }
}

/// One host and one procedure that targets it.
public struct ReportRow: Hashable, Sendable, Codable {
    public var host: String
    public var procedure: String
    /// What `detect` found last (absent: not installed, or never scanned: see `state`).
    public var installed: String?
    public var seenAt: Int64?
    /// The newest release seen in the procedure's feed.
    public var newest: String?
    /// `current`, `behind`, `not_installed`, `not_scanned`, `no_release` (as `host list`).
    public var state: String
    /// When the host fell behind: when the oldest release newer than what it runs was first seen.
    public var behindSince: Int64?
    /// Rollouts of the procedure created within the report's period whose plan had the host, oldest first.
    public var rollouts: [ReportRollout]

    public init(
        host: String, procedure: String, installed: String? = nil, seenAt: Int64? = nil, newest: String? = nil,
        state: String, behindSince: Int64? = nil, rollouts: [ReportRollout] = []
    ) {
        self.host = host
        self.procedure = procedure
        self.installed = installed
        self.seenAt = seenAt
        self.newest = newest
        self.state = state
        self.behindSince = behindSince
        self.rollouts = rollouts
    }
}

/// One page of `GET /v1/report`.
public struct ReportResponse: Hashable, Sendable, Codable {
    public var tenant: String
    /// The tenant's display name.
    public var tenantName: String
    public var generatedAt: Int64
    public var sinceSeconds: Int64
    public var rows: [ReportRow]
    /// The `after` of the next page; absent on the last.
    public var nextAfter: String?

    public init(
        tenant: String, tenantName: String, generatedAt: Int64, sinceSeconds: Int64, rows: [ReportRow],
        nextAfter: String? = nil
    ) {
        self.tenant = tenant
        self.tenantName = tenantName
        self.generatedAt = generatedAt
        self.sinceSeconds = sinceSeconds
        self.rows = rows
        self.nextAfter = nextAfter
    }
}
