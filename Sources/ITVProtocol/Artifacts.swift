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

    public init(
        procedure: String, version: String, url: String, state: String, name: String, size: Int64? = nil,
        sha256: String? = nil, verifiedBy: String? = nil, rejection: String? = nil, message: String? = nil,
        expectedSha256: String? = nil, actualSha256: String? = nil, cached: Bool, recordedAt: Int64
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
    }
}

/// `GET /v1/artifacts`: every release's artifact record, by procedure.
public struct ArtifactListResponse: Hashable, Sendable, Codable {
    public var artifacts: [ArtifactInfo]
    /// Bytes of the cache's files, and its configured bound.
    public var cacheBytes: Int64
    public var maxBytes: Int64

    public init(artifacts: [ArtifactInfo], cacheBytes: Int64, maxBytes: Int64) {
        self.artifacts = artifacts
        self.cacheBytes = cacheBytes
        self.maxBytes = maxBytes
    }
}
