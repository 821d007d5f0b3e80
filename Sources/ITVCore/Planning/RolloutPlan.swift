/// One wave of a plan: the playbook's wave and the hosts it takes.
public struct PlannedWave: Hashable, Sendable {
    /// Position in `rollout.waves`, 0-based (operators see `index + 1`: "wave 1" is index 0).
    public let index: Int
    public let spec: WaveSpec
    /// Host names. Explicit `hosts:` waves keep the order written; every other wave is in inventory order.
    /// May be empty (a `count`, `percent`, `group` or `rest` wave that found no host left).
    public let hosts: [String]

    public init(index: Int, spec: WaveSpec, hosts: [String]) {
        self.index = index
        self.spec = spec
        self.hosts = hosts
    }
}

/// Which hosts go in which wave when a procedure is rolled out to a version, and the hash an approver
/// approves. Made by ``WavePlanner/plan(playbook:inventory:version:)``.
public struct RolloutPlan: Hashable, Sendable {
    /// The procedure id.
    public let procedure: String
    public let version: String
    public let waves: [PlannedWave]
    /// Lowercase hex SHA-256 over the canonical `itv-plan-v1` encoding (see `PlanEncoding.swift`): the
    /// waves and their hosts, each host's address, port, user and OS, the steps and the failure policy.
    /// Equal hashes mean the approver approved exactly this.
    public let hash: String
    /// The verified installer the hosts are given before `install`, if the playbook has an `artifact:` block.
    public let artifact: PlannedArtifact?

    /// Restores a persisted plan as it was stored; the hash is taken as given, not recomputed.
    /// Plans are made by ``WavePlanner``.
    public init(
        procedure: String, version: String, waves: [PlannedWave], hash: String, artifact: PlannedArtifact? = nil
    ) {
        self.procedure = procedure
        self.version = version
        self.waves = waves
        self.hash = hash
        self.artifact = artifact
    }

    /// Hosts in all waves together.
    public var hostCount: Int { waves.reduce(0) { $0 + $1.hosts.count } }

    /// The wave a host is in, if any.
    public func wave(containing host: String) -> PlannedWave? { waves.first { $0.hosts.contains(host) } }
}

/// Why a rollout cannot be planned.
public struct PlanError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `.noHosts`, `.duplicateHost`, `.noWaves`, `.duplicateWave`, `.multipleRestWaves`, `.invalidSize`,
    /// `.emptyWave`, `.unknownHost`, `.overlappingWaves`, `.unknownGroup`, `.uncoveredHosts`.
    public let kind: ITVErrorKind
    public let message: String

    public init(kind: ITVErrorKind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
