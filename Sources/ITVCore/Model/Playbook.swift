/// The operating system family of a host; decides which command of a per-OS step runs, and how
/// values are quoted into it.
public enum OSFamily: String, Hashable, Sendable, Codable, CaseIterable {
    case linux
    case windows
}

/// Where a procedure's releases are published, and how to read versions out of it.
public enum FeedKind: String, Hashable, Sendable, Codable, CaseIterable {
    case atom
    case rss
    case json
    case github
    case html
    case text
}

/// The `feed:` block of a playbook.
public struct FeedSpec: Hashable, Sendable {
    public var kind: FeedKind
    public var url: String
    /// json: a path (`a.b[0].c`, `a.b[*].c`); atom/rss/github: `title`, `id`, `link` or `content`.
    public var select: String?
    /// A regular expression with a named group `version`.
    public var match: String?
    public var scheme: VersionScheme
    public var prereleases: Bool
    public var every: TimeSpan
    public var allowHTTP: Bool
    public var minAge: TimeSpan
    /// `artifact.sha256_from_feed` (json feeds): the path, inside the entry that announces a version (the
    /// object holding the key `select` ends with), of the SHA-256 of that version's artifact.
    public var digestSelect: String?

    public init(
        kind: FeedKind, url: String, select: String? = nil, match: String? = nil, scheme: VersionScheme = .dotted,
        prereleases: Bool = false, every: TimeSpan = TimeSpan(seconds: 3_600), allowHTTP: Bool = false,
        minAge: TimeSpan = .zero, digestSelect: String? = nil
    ) {
        self.kind = kind
        self.url = url
        self.select = select
        self.match = match
        self.scheme = scheme
        self.prereleases = prereleases
        self.every = every
        self.allowHTTP = allowHTTP
        self.minAge = minAge
        self.digestSelect = digestSelect
    }
}

/// One step's command: the same template for every host, or one per operating system.
public struct StepCommand: Hashable, Sendable {
    public var byOS: [OSFamily: CommandTemplate]

    public init(all template: CommandTemplate) {
        byOS = Dictionary(uniqueKeysWithValues: OSFamily.allCases.map { ($0, template) })
    }

    public init(byOS: [OSFamily: CommandTemplate]) { self.byOS = byOS }

    /// The template for a host of this OS, or nil when the playbook has none for it.
    public func template(for os: OSFamily) -> CommandTemplate? { byOS[os] }
}

/// The `steps:` block: what runs on each host.
public struct Steps: Hashable, Sendable {
    public var detect: StepCommand
    public var install: StepCommand
    public var verify: StepCommand
    public var rollback: StepCommand?
    public var timeout: TimeSpan
    /// May `install` run again after an outcome the daemon could not learn?
    public var idempotent: Bool
    /// `steps.artifact_dir`: where `stage` puts the artifact, for the OS families the playbook names (the
    /// others use ``ArtifactPlacement/defaultDirectory(for:)``).
    public var artifactDir: [OSFamily: String]
    /// Installer exit codes, reboots and the logged-on user check.
    public var reboot: RebootSpec

    public init(
        detect: StepCommand, install: StepCommand, verify: StepCommand, rollback: StepCommand?,
        timeout: TimeSpan = TimeSpan(seconds: 900), idempotent: Bool = false, artifactDir: [OSFamily: String] = [:],
        reboot: RebootSpec = RebootSpec()
    ) {
        self.detect = detect
        self.install = install
        self.verify = verify
        self.rollback = rollback
        self.timeout = timeout
        self.idempotent = idempotent
        self.artifactDir = artifactDir
        self.reboot = reboot
    }
}

/// Which hosts a wave takes.
public enum WaveSize: Hashable, Sendable {
    /// This many hosts (at least 1).
    case count(Int)
    /// This percentage of all the rollout's hosts (at least 1 host), 1...100.
    case percent(Int)
    /// Every host not in another wave.
    case rest
    /// Exactly these hosts.
    case hosts([String])
    /// The rollout's hosts in this inventory group.
    case group(String)
}

/// Who lets a wave start.
public enum ApprovalKind: String, Hashable, Sendable, Codable, CaseIterable {
    /// Starts when the previous wave succeeded and baked.
    case auto
    /// Needs `itvctl rollout approve` (by `approvals` different Unix users).
    case `operator`
    /// Unattended: starts when the rollout's patch window opens.
    case window
}

/// One entry of `rollout.waves`.
public struct WaveSpec: Hashable, Sendable {
    public var name: String
    public var size: WaveSize
    public var approval: ApprovalKind
    /// Different operators needed for an `operator` wave (four-eyes principle: 2).
    public var approvals: Int
    /// How long the wave must stay healthy before the next may start.
    public var bake: TimeSpan
    /// How many host runs of this wave may run at once (nil: the daemon's cap).
    public var parallel: Int?

    public init(
        name: String, size: WaveSize, approval: ApprovalKind = .auto, approvals: Int = 1, bake: TimeSpan = .zero,
        parallel: Int? = nil
    ) {
        self.name = name
        self.size = size
        self.approval = approval
        self.approvals = approvals
        self.bake = bake
        self.parallel = parallel
    }
}

/// `max_failures`: how many failed hosts a wave tolerates.
public enum FailureThreshold: Hashable, Sendable, CustomStringConvertible {
    case count(Int)
    case percent(Int)

    /// True when `failures` out of `hosts` is more than allowed. Reaching the threshold does not halt.
    public func isExceeded(failures: Int, hosts: Int) -> Bool {
        switch self {
        case .count(let n): return failures > n
        case .percent(let p): return failures * 100 > p * hosts
        }
    }

    public var description: String {
        switch self {
        case .count(let n): return "\(n)"
        case .percent(let p): return "\(p)%"
        }
    }
}

/// What a wave that exceeds `max_failures` does.
public enum FailurePolicy: String, Hashable, Sendable, Codable, CaseIterable {
    case halt
    case rollback
}

/// The `rollout:` block.
public struct RolloutSpec: Hashable, Sendable {
    public var autoPlan: Bool
    public var waves: [WaveSpec]
    public var maxFailures: FailureThreshold
    public var onFailure: FailurePolicy
    /// Host runs start only while this window is open (nil: any time).
    public var window: String?
    /// How often a deferred (unreached) host is tried again.
    public var retryUnreached: TimeSpan
    /// How long after its first attempt a deferred host is given up as `unreached`.
    public var reachDeadline: TimeSpan
    /// Deferred and unreached hosts a wave tolerates before the rollout halts (an outage, not switched-off PCs).
    public var maxUnreached: FailureThreshold

    public init(
        autoPlan: Bool = false, waves: [WaveSpec], maxFailures: FailureThreshold = .count(0),
        onFailure: FailurePolicy = .halt, window: String? = nil, retryUnreached: TimeSpan = TimeSpan(seconds: 900),
        reachDeadline: TimeSpan = TimeSpan(seconds: 7 * 24 * 3_600), maxUnreached: FailureThreshold = .percent(50)
    ) {
        self.autoPlan = autoPlan
        self.waves = waves
        self.maxFailures = maxFailures
        self.onFailure = onFailure
        self.window = window
        self.retryUnreached = retryUnreached
        self.reachDeadline = reachDeadline
        self.maxUnreached = maxUnreached
    }
}

/// A procedure: one business application, as declared by its playbook.
public struct Playbook: Hashable, Sendable {
    public static let apiVersion = "itv/v1"

    public var id: String
    public var name: String
    public var vendor: String
    /// Group or host names from the inventory, each with where it was written.
    public var targets: [Located<String>]
    public var feed: FeedSpec?
    public var steps: Steps
    public var rollout: RolloutSpec
    /// The `artifact:` block: the installer itvd downloads, verifies and puts on the hosts (nil: none).
    public var artifact: ArtifactSpec?
    /// Where the playbook starts (its file), for cross-file diagnostics.
    public var origin: SourceLocation
    /// Where individual keys were written, by key path (`rollout.window`, `rollout.waves[1].group`).
    public var keyLocations: [String: SourceLocation]

    public init(
        id: String, name: String, vendor: String, targets: [Located<String>], feed: FeedSpec?, steps: Steps,
        rollout: RolloutSpec, origin: SourceLocation, keyLocations: [String: SourceLocation] = [:],
        artifact: ArtifactSpec? = nil
    ) {
        self.id = id
        self.name = name
        self.vendor = vendor
        self.targets = targets
        self.feed = feed
        self.steps = steps
        self.rollout = rollout
        self.origin = origin
        self.keyLocations = keyLocations
        self.artifact = artifact
    }

    /// The location of a key path, falling back to the start of the playbook.
    public func location(of keyPath: String) -> SourceLocation { keyLocations[keyPath] ?? origin }

    /// True when `id` is a valid procedure id: `[a-z0-9][a-z0-9-]*`, at most 63 characters.
    public static func isValidID(_ id: String) -> Bool {
        guard let first = id.unicodeScalars.first, id.unicodeScalars.count <= 63 else { return false }
        func ok(_ s: Unicode.Scalar) -> Bool { ("a"..."z").contains(s) || ("0"..."9").contains(s) }
        return ok(first) && id.unicodeScalars.allSatisfy { ok($0) || $0 == "-" }
    }
}
