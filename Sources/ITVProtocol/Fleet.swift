// Procedures, releases, feeds and hosts on the wire.

/// How many hosts run one version of a procedure (`version` absent: not installed / not detected yet).
public struct VersionCount: Hashable, Sendable, Codable {
    public var version: String?
    public var hosts: Int

    public init(version: String?, hosts: Int) {
        self.version = version
        self.hosts = hosts
    }
}

/// One procedure (business application), as its playbook declares it, with what the fleet runs.
public struct ProcedureInfo: Hashable, Sendable, Codable {
    public var id: String
    public var name: String
    public var vendor: String
    /// Group or host names from the inventory.
    public var targets: [String]
    public var hostCount: Int
    /// Version scheme (`dotted`, `semver`, `debian`, `pep440`, `date`).
    public var scheme: String
    /// Feed kind (`atom`, `rss`, `json`, `github`, `html`, `text`); absent without a feed.
    public var feedKind: String?
    public var feedUrl: String?
    /// The newest release seen in the feed.
    public var latestRelease: String?
    /// Versions deployed, most hosts first.
    public var deployed: [VersionCount]

    public init(
        id: String, name: String, vendor: String, targets: [String], hostCount: Int, scheme: String,
        feedKind: String? = nil, feedUrl: String? = nil, latestRelease: String? = nil, deployed: [VersionCount] = []
    ) {
        self.id = id
        self.name = name
        self.vendor = vendor
        self.targets = targets
        self.hostCount = hostCount
        self.scheme = scheme
        self.feedKind = feedKind
        self.feedUrl = feedUrl
        self.latestRelease = latestRelease
        self.deployed = deployed
    }
}

/// `GET /v1/procedures`.
public struct ProcedureListResponse: Hashable, Sendable, Codable {
    public var procedures: [ProcedureInfo]

    public init(procedures: [ProcedureInfo]) { self.procedures = procedures }
}

/// `GET /v1/procedures/{id}`: one procedure with its waves, releases, host versions and rollouts.
public struct ProcedureDetail: Hashable, Sendable, Codable {
    public var procedure: ProcedureInfo
    /// The playbook's waves, planned against the current inventory (no version: hosts only).
    public var waves: [PlanWaveInfo]
    /// Newest first.
    public var releases: [ReleaseInfo]
    /// What `detect` last found on each target host.
    public var hosts: [InstalledVersion]
    /// Newest first.
    public var rollouts: [RolloutInfo]

    public init(
        procedure: ProcedureInfo, waves: [PlanWaveInfo], releases: [ReleaseInfo], hosts: [InstalledVersion],
        rollouts: [RolloutInfo]
    ) {
        self.procedure = procedure
        self.waves = waves
        self.releases = releases
        self.hosts = hosts
        self.rollouts = rollouts
    }
}

/// A version of a procedure seen in its vendor feed.
public struct ReleaseInfo: Hashable, Sendable, Codable {
    public var procedure: String
    /// Feed content: clients escape control characters before printing.
    public var version: String
    public var firstSeenAt: Int64
    public var feedUrl: String
    /// `artifact:` playbooks: `verified` or `rejected` (nothing can be planned for a rejected release).
    public var artifactState: String?
    /// Why the artifact was rejected (`checksum_mismatch`, `bad_signature`, ...).
    public var artifactRejection: String?
    public var artifactSha256: String?

    public init(
        procedure: String, version: String, firstSeenAt: Int64, feedUrl: String, artifactState: String? = nil,
        artifactRejection: String? = nil, artifactSha256: String? = nil
    ) {
        self.procedure = procedure
        self.version = version
        self.firstSeenAt = firstSeenAt
        self.feedUrl = feedUrl
        self.artifactState = artifactState
        self.artifactRejection = artifactRejection
        self.artifactSha256 = artifactSha256
    }
}

/// `GET /v1/releases`.
public struct ReleaseListResponse: Hashable, Sendable, Codable {
    /// Newest first.
    public var releases: [ReleaseInfo]

    public init(releases: [ReleaseInfo]) { self.releases = releases }
}

/// The result of polling one feed now.
public struct FeedCheckResult: Hashable, Sendable, Codable {
    public var procedure: String
    public var ok: Bool
    /// The newest release the feed lists.
    public var latest: String?
    /// Releases seen for the first time by this poll.
    public var newReleases: [String]
    public var error: APIError?

    public init(procedure: String, ok: Bool, latest: String? = nil, newReleases: [String] = [], error: APIError? = nil)
    {
        self.procedure = procedure
        self.ok = ok
        self.latest = latest
        self.newReleases = newReleases
        self.error = error
    }
}

/// `POST /v1/feeds/check`.
public struct FeedCheckResponse: Hashable, Sendable, Codable {
    public var results: [FeedCheckResult]

    public init(results: [FeedCheckResult]) { self.results = results }
}

/// What `detect` last found for a procedure on a host.
public struct InstalledVersion: Hashable, Sendable, Codable {
    public var host: String
    public var procedure: String
    /// Absent: not installed, or never detected (`seen_at` absent too).
    public var version: String?
    public var seenAt: Int64?
    /// The procedure's newest release, for drift.
    public var latest: String?
    /// True when the host runs the newest release.
    public var current: Bool
    /// The active rollout of the procedure in which the host is deferred or unreached (absent otherwise).
    public var rolloutId: Int64?
    /// `deferred` or `unreached` (`HostRunInfo.Phase`) in that rollout.
    public var rolloutState: String?
    /// Why it is deferred (`unreached`, `user_logged_on`).
    public var deferReason: String?

    public init(
        host: String, procedure: String, version: String? = nil, seenAt: Int64? = nil, latest: String? = nil,
        current: Bool, rolloutId: Int64? = nil, rolloutState: String? = nil, deferReason: String? = nil
    ) {
        self.rolloutId = rolloutId
        self.rolloutState = rolloutState
        self.deferReason = deferReason
        self.host = host
        self.procedure = procedure
        self.version = version
        self.seenAt = seenAt
        self.latest = latest
        self.current = current
    }
}

/// One host of the inventory with what it runs.
public struct HostInfo: Hashable, Sendable, Codable {
    public var name: String
    public var address: String
    public var port: Int
    public var tenant: String
    public var groups: [String]
    /// `linux` or `windows`.
    public var os: String
    /// One entry per procedure targeting the host (filtered by `procedure` when asked).
    public var procedures: [InstalledVersion]
    /// Procedures whose install said the host must restart, which it has not done through itvd since
    /// ("reboot pending"); absent when none.
    public var rebootPending: [String]?

    public init(
        name: String, address: String, port: Int, tenant: String, groups: [String], os: String,
        procedures: [InstalledVersion], rebootPending: [String]? = nil
    ) {
        self.rebootPending = rebootPending
        self.name = name
        self.address = address
        self.port = port
        self.tenant = tenant
        self.groups = groups
        self.os = os
        self.procedures = procedures
    }
}

/// `GET /v1/hosts`.
public struct HostListResponse: Hashable, Sendable, Codable {
    public var hosts: [HostInfo]

    public init(hosts: [HostInfo]) { self.hosts = hosts }
}

/// The result of running `detect` on one host for one procedure.
public struct HostScanResult: Hashable, Sendable, Codable {
    public var host: String
    public var procedure: String
    public var version: String?
    public var error: APIError?

    public init(host: String, procedure: String, version: String? = nil, error: APIError? = nil) {
        self.host = host
        self.procedure = procedure
        self.version = version
        self.error = error
    }
}

/// `POST /v1/hosts/scan`.
public struct HostScanResponse: Hashable, Sendable, Codable {
    public var results: [HostScanResult]

    public init(results: [HostScanResult]) { self.results = results }
}
