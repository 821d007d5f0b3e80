import ITVCore

// Request bodies (POST) and query parameters (GET). Query values are plain strings; GET requests are
// built from and turned into query items here, so that the daemon and itvctl agree.

/// A request carried in the query string of a GET.
public protocol QueryRequest: Sendable {
    /// Parses the query; throws `invalid_request` for a bad value. Unknown keys are ignored (add-only).
    init(query: [String: String]) throws(APIError)
    var queryItems: [(String, String)] { get }
}

/// `GET /v1/releases?procedure=ID`.
public struct ReleaseListRequest: QueryRequest, Hashable, Codable {
    public var procedure: String?

    public init(procedure: String? = nil) { self.procedure = procedure }
    public init(query: [String: String]) { procedure = query["procedure"] }
    public var queryItems: [(String, String)] { procedure.map { [("procedure", $0)] } ?? [] }
}

/// `GET /v1/hosts?procedure=ID&group=G&tenant=T`.
public struct HostListRequest: QueryRequest, Hashable, Codable {
    public var procedure: String?
    public var group: String?
    public var tenant: String?

    public init(procedure: String? = nil, group: String? = nil, tenant: String? = nil) {
        self.procedure = procedure
        self.group = group
        self.tenant = tenant
    }

    public init(query: [String: String]) {
        procedure = query["procedure"]
        group = query["group"]
        tenant = query["tenant"]
    }

    public var queryItems: [(String, String)] {
        [("procedure", procedure), ("group", group), ("tenant", tenant)].compactMap { k, v in v.map { (k, $0) } }
    }
}

/// `GET /v1/procedures/{id}/plan?version=V`.
public struct RolloutPlanRequest: QueryRequest, Hashable, Codable {
    /// Absent: the newest release.
    public var version: String?

    public init(version: String? = nil) { self.version = version }
    public init(query: [String: String]) { version = query["version"] }
    public var queryItems: [(String, String)] { version.map { [("version", $0)] } ?? [] }
}

/// `GET /v1/rollouts?all=true`.
public struct RolloutListRequest: QueryRequest, Hashable, Codable {
    /// Rollouts in a page of `all=true` when the request does not say.
    public static let defaultLimit = 1_000
    /// The most rollouts a page may hold; a larger `limit` is refused (`invalid_request`).
    public static let maxLimit = 1_000

    /// Include finished rollouts.
    public var all: Bool
    /// With `all`: at most this many rollouts (1 to `maxLimit`; default `defaultLimit`).
    public var limit: Int?
    /// With `all`: only rollouts with an id below this (the `next_before` of the previous page).
    public var before: Int64?

    public init(all: Bool = false, limit: Int? = nil, before: Int64? = nil) {
        self.all = all
        self.limit = limit
        self.before = before
    }

    public init(query: [String: String]) throws(APIError) {
        switch query["all"] {
        case nil, "false", "0": all = false
        case "true", "1": all = true
        case let other?:
            throw APIError(
                .invalidRequest,
                "query parameter all must be true or false, not '\(escapedForMessage(other, limit: 64))'")
        }
        limit = try PageQuery.limit(query, max: Self.maxLimit)
        before = try PageQuery.before(query, naming: "a rollout id")
    }

    public var queryItems: [(String, String)] {
        (all ? [("all", "true")] : []) + PageQuery.items(limit: limit, before: before)
    }
}

/// The `limit` and `before` query parameters of a paged list (rollouts, audit trail), read the same way
/// everywhere.
enum PageQuery {
    /// `limit`: 1 to `max`, or nil when absent.
    static func limit(_ query: [String: String], max: Int) throws(APIError) -> Int? {
        guard let l = query["limit"] else { return nil }
        guard let v = Int(l), v > 0, v <= max else {
            throw APIError(
                .invalidRequest,
                "query parameter limit must be a number from 1 to \(max), not '\(escapedForMessage(l, limit: 64))'")
        }
        return v
    }

    /// `before`: a positive id (`naming` says of what, for the message), or nil when absent.
    static func before(_ query: [String: String], naming: String) throws(APIError) -> Int64? {
        guard let b = query["before"] else { return nil }
        guard let v = Int64(b), v > 0 else {
            throw APIError(
                .invalidRequest,
                "query parameter before must be \(naming) (a positive number), not "
                    + "'\(escapedForMessage(b, limit: 64))'")
        }
        return v
    }

    static func items(limit: Int?, before: Int64?) -> [(String, String)] {
        (limit.map { [("limit", String($0))] } ?? []) + (before.map { [("before", String($0))] } ?? [])
    }
}

/// `GET /v1/audit?since=EPOCH_MS&before=ID&limit=N`: one page of the audit trail.
///
/// A page holds the newest entries that match (at or after `since`, with an id below `before`): at most
/// `limit` of them and about `pageBytes` of text (at least one entry), listed oldest first. When older
/// entries match too, the answer's `next_before` says where the next page starts: ask again with
/// `before` set to it.
public struct AuditRequest: QueryRequest, Hashable, Codable {
    /// Entries in a page when the request does not say.
    public static let defaultLimit = 1_000
    /// The most entries a page may hold; a larger `limit` is refused (`invalid_request`).
    public static let maxLimit = 10_000
    /// About how much text (comments, users, targets, UTF-8 bytes) one page holds.
    public static let pageBytes = 2 << 20

    /// Entries at or after this time (epoch milliseconds).
    public var since: Int64?
    /// At most this many entries (1 to `maxLimit`; default `defaultLimit`).
    public var limit: Int?
    /// Only entries with an id below this: the `next_before` of the previous page.
    public var before: Int64?

    public init(since: Int64? = nil, limit: Int? = nil, before: Int64? = nil) {
        self.since = since
        self.limit = limit
        self.before = before
    }

    public init(query: [String: String]) throws(APIError) {
        if let s = query["since"] {
            guard let v = Int64(s), v >= 0 else {
                throw APIError(.invalidRequest, "query parameter since must be epoch milliseconds, not '\(s)'")
            }
            since = v
        }
        limit = try PageQuery.limit(query, max: Self.maxLimit)
        before = try PageQuery.before(query, naming: "an audit entry id")
    }

    public var queryItems: [(String, String)] {
        (since.map { [("since", String($0))] } ?? []) + PageQuery.items(limit: limit, before: before)
    }
}

/// `POST /v1/feeds/check`.
public struct FeedCheckRequest: Hashable, Sendable, Codable {
    /// Procedure ids; empty: every procedure with a feed.
    public var procedures: [String]

    public init(procedures: [String] = []) { self.procedures = procedures }
}

/// `POST /v1/hosts/scan`.
public struct HostScanRequest: Hashable, Sendable, Codable {
    /// Absent: every procedure.
    public var procedure: String?

    public init(procedure: String? = nil) { self.procedure = procedure }
}

/// `POST /v1/rollouts`: create a rollout.
public struct RolloutStartRequest: Hashable, Sendable, Codable {
    public var procedure: String
    /// Absent: the newest release.
    public var version: String?
    public var comment: String?

    public init(procedure: String, version: String? = nil, comment: String? = nil) {
        self.procedure = procedure
        self.version = version
        self.comment = comment
    }
}

/// `POST /v1/rollouts/{id}/approve`: approve the wave that waits, for the plan the approver saw.
public struct ApproveRequest: Hashable, Sendable, Codable {
    /// Index of the wave the approver saw waiting; another wave waiting is a `conflict`.
    public var wave: Int
    /// The plan hash the approver saw; another plan is `plan_changed`.
    public var planHash: String
    public var comment: String?

    public init(wave: Int, planHash: String, comment: String? = nil) {
        self.wave = wave
        self.planHash = planHash
        self.comment = comment
    }
}

/// `POST /v1/rollouts/{id}/pause|resume|abort|rollback`.
public struct RolloutControlRequest: Hashable, Sendable, Codable {
    public var reason: String?

    public init(reason: String? = nil) { self.reason = reason }
}

/// `POST /v1/rollouts/{id}/retry|skip`: settle a failed or unknown host.
public struct HostActionRequest: Hashable, Sendable, Codable {
    public var host: String
    public var comment: String?

    public init(host: String, comment: String? = nil) {
        self.host = host
        self.comment = comment
    }
}

/// `POST /v1/windows/{name}/open`.
public struct WindowOpenRequest: Hashable, Sendable, Codable {
    /// Absent: the window's configured duration.
    public var durationSeconds: Int64?
    public var comment: String?

    public init(durationSeconds: Int64? = nil, comment: String? = nil) {
        self.durationSeconds = durationSeconds
        self.comment = comment
    }
}

/// `POST /v1/windows/{name}/close`.
public struct WindowCloseRequest: Hashable, Sendable, Codable {
    public var comment: String?

    public init(comment: String? = nil) { self.comment = comment }
}

/// `POST /v1/reload` (no fields yet; the body may be empty).
public struct ReloadRequest: Hashable, Sendable, Codable {
    public init() {}
}
