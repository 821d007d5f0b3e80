/// The verified installer a plan puts on its hosts (`artifact:` playbooks): part of the plan hash.
public struct PlanArtifactInfo: Hashable, Sendable, Codable {
    /// The file name on the host.
    public var name: String
    public var size: Int64
    /// Lowercase hex SHA-256.
    public var sha256: String

    public init(name: String, size: Int64, sha256: String) {
        self.name = name
        self.size = size
        self.sha256 = sha256
    }
}

/// What itvd knows about the artifact of one release: `verified` (in the cache) or `rejected` (why).
public struct ArtifactInfo: Hashable, Sendable, Codable {
    public var procedure: String
    /// Feed content: clients escape control characters before printing.
    public var version: String
    public var url: String
    /// `verified` or `rejected`.
    public var state: String
    public var name: String
    public var size: Int64?
    public var sha256: String?
    /// `sha256sum`, `json` or `feed`, then `+gpg` or `+minisign`.
    public var verifiedBy: String?
    /// `checksum_mismatch`, `bad_signature`, `missing_entry`, `conflicting_entries`, `bad_checksums`,
    /// `too_large`, `redirect_refused`, `insecure_url`.
    public var rejection: String?
    public var message: String?
    public var expectedSha256: String?
    public var actualSha256: String?
    /// The bytes are in the cache now.
    public var cached: Bool
    public var recordedAt: Int64
    /// Why a cached file is kept when the cache is trimmed: `rollout N` (an active rollout uses it) or
    /// `newest 3` (one of the newest 3 verified releases of its procedure); absent: it may be removed (added
    /// with `GET /v1/artifacts`).
    public var keptBecause: String?

    public init(
        procedure: String, version: String, url: String, state: String, name: String, size: Int64? = nil,
        sha256: String? = nil, verifiedBy: String? = nil, rejection: String? = nil, message: String? = nil,
        expectedSha256: String? = nil, actualSha256: String? = nil, cached: Bool, recordedAt: Int64,
        keptBecause: String? = nil
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
        self.expectedSha256 = expectedSha256
        self.actualSha256 = actualSha256
        self.cached = cached
        self.recordedAt = recordedAt
        self.keptBecause = keptBecause
    }
}

/// `GET /v1/artifacts`: every release's artifact record, by procedure.
public struct ArtifactListResponse: Hashable, Sendable, Codable {
    public var artifacts: [ArtifactInfo]
    /// Bytes of the cache's files, and its configured bound.
    public var cacheBytes: Int64
    public var maxBytes: Int64
    /// How many records matched; more than `artifacts.count` when `limit` cut the answer (absent: all listed).
    public var total: Int?

    public init(artifacts: [ArtifactInfo], cacheBytes: Int64, maxBytes: Int64, total: Int? = nil) {
        self.artifacts = artifacts
        self.cacheBytes = cacheBytes
        self.maxBytes = maxBytes
        self.total = total
    }
}

/// `GET /v1/artifacts?procedure=ID&limit=N`: the artifact records (and the cache's use), by procedure then
/// time. At most `limit` records (default 1,000, at most 5,000); `total` says how many matched.
public struct ArtifactListRequest: QueryRequest, Hashable, Codable {
    public static let defaultLimit = 1_000
    /// The most records an answer may hold; a larger `limit` is refused (`invalid_request`).
    public static let maxLimit = 5_000
    public var procedure: String?
    public var limit: Int?

    public init(procedure: String? = nil, limit: Int? = nil) {
        self.procedure = procedure
        self.limit = limit
    }

    public init(query: [String: String]) throws(APIError) {
        procedure = query["procedure"]
        limit = try PageQuery.limit(query, max: Self.maxLimit)
    }

    public var queryItems: [(String, String)] {
        (procedure.map { [("procedure", $0)] } ?? []) + (limit.map { [("limit", String($0))] } ?? [])
    }
}
