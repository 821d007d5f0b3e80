import ITVCore

/// What the engine asks of the artifact source: the verified installer of one release.
public struct ArtifactRequest: Hashable, Sendable {
    public var procedure: String
    public var version: String
    public var spec: ArtifactSpec
    /// For `sha256_from_feed`: the digest the feed entry announced (nil when the feed gave none).
    public var feedSHA256: String?

    public init(procedure: String, version: String, spec: ArtifactSpec, feedSHA256: String? = nil) {
        self.procedure = procedure
        self.version = version
        self.spec = spec
        self.feedSHA256 = feedSHA256
    }
}

/// A verified artifact in the cache (`<cache>/sha256/<sha256>`).
public struct VerifiedArtifact: Hashable, Sendable, Codable {
    public var url: String
    /// The file name on the host.
    public var name: String
    public var size: Int64
    /// Lowercase hex.
    public var sha256: String
    /// What vouched for the bytes: `sha256sum`, `json` or `feed`, then `+gpg` or `+minisign` when signed.
    public var verifiedBy: String
    /// False when the bytes were already in the cache (nothing was downloaded).
    public var downloaded: Bool

    public init(url: String, name: String, size: Int64, sha256: String, verifiedBy: String, downloaded: Bool) {
        self.url = url
        self.name = name
        self.size = size
        self.sha256 = sha256
        self.verifiedBy = verifiedBy
        self.downloaded = downloaded
    }

    public var planned: PlannedArtifact { PlannedArtifact(name: name, size: size, sha256: sha256) }
}

/// Why a release's artifact cannot be used. `kind` is stable (journal, `release list`, errors).
public struct ArtifactRejection: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    /// `checksum_mismatch`, `bad_signature`, `missing_entry`, `conflicting_entries`, `bad_checksums`,
    /// `too_large`, `redirect_refused`, `insecure_url`.
    public var kind: String
    public var message: String
    /// The digest the checksum source gave, when it got that far.
    public var expected: String?
    /// The digest of the bytes downloaded, when it got that far.
    public var actual: String?

    public init(_ kind: String, _ message: String, expected: String? = nil, actual: String? = nil) {
        self.kind = kind
        self.message = message
        self.expected = expected
        self.actual = actual
    }

    public var description: String { "\(kind): \(message)" }
}

/// What one attempt produced.
public enum ArtifactOutcome: Hashable, Sendable {
    case verified(VerifiedArtifact)
    /// The vendor's bytes (or checksums, or signature) are not what they must be: the release is rejected.
    case rejected(ArtifactRejection)
    /// It could not be learned now (no connection, timeout, HTTP error): try again later.
    case failed(FeedFetchError)
}

/// The port through which the engine obtains verified artifacts (libcurl, OpenSSL and gpgv in production).
/// Only a complete file whose SHA-256 matched ever gets its final name in the cache.
public protocol ArtifactSource: Sendable {
    func obtain(_ request: ArtifactRequest) async -> ArtifactOutcome
    /// The path of the cached file of a digest, if it is there.
    func cachedFile(sha256: String) -> String?
    /// Removes the oldest cached files not in `keep` until the cache holds at most `maxBytes` (the kept files
    /// may hold more). Returns the digests removed and the bytes the cache holds afterwards.
    func trim(maxBytes: Int64, keep: Set<String>) -> (removed: [String], bytes: Int64)
    /// The cache's verified files, digest -> bytes, from one listing of the cache (for `itvctl artifact list`:
    /// one look at the directory per request, however many records it lists).
    func cachedSizes() -> [String: Int64]
}

extension ArtifactSource {
    /// A source without a cache of its own (tests' fakes) has nothing to trim.
    public func trim(maxBytes: Int64, keep: Set<String>) -> (removed: [String], bytes: Int64) { ([], 0) }
    public func cachedSizes() -> [String: Int64] { [:] }
}

/// The artifact cache as `itvctl artifact list` shows it.
public struct ArtifactCacheView: Sendable {
    public struct Entry: Sendable {
        public var record: ArtifactRecord
        /// The verified bytes are in the cache now.
        public var cached: Bool
        /// `rollout N` or `newest 3`; nil: a trim may remove the file.
        public var keptBecause: String?
    }

    public var entries: [Entry]
    /// Bytes of the cache's verified files, and `artifacts.max_bytes`.
    public var bytes: Int64
    public var maxBytes: Int64
}
