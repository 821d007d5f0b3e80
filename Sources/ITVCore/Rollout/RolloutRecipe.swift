// What a rollout runs, frozen when it is created (persisted with the rollout; raw values are stable).

/// What a rollout runs, frozen when it is created so that a reload cannot change a running rollout's
/// commands: the step templates per OS, and the failure policy.
public struct RolloutRecipe: Hashable, Sendable, Codable {
    /// Step name (`detect`, `install`, `verify`, `rollback`) -> OS (`linux`, `windows`) -> template source.
    public var steps: [String: [String: String]]
    public var timeoutSeconds: Int64
    public var idempotent: Bool
    /// `"2"` or `"5%"`.
    public var maxFailures: String
    public var onFailure: FailurePolicy
    public var window: String?
    public var scheme: VersionScheme
    /// OS -> exit code (decimal) -> meaning, defaults included. Nil in recipes stored before exit codes
    /// existed: the OS defaults.
    public var exitCodes: [String: [String: ExitCodeAction]]?
    /// Nil in recipes stored before reboots existed: `never`.
    public var reboot: RebootPolicy?
    public var rebootTimeoutSeconds: Int64?
    /// Seconds between attempts to reach a deferred host (nil in rollouts made before deferral: 15m).
    public var retryUnreachedSeconds: Int64?
    /// Seconds after a host's first attempt after which a deferred host becomes `unreached` (nil: 7d).
    public var reachDeadlineSeconds: Int64?
    /// `"3"` or `"50%"`: deferred and unreached hosts a wave tolerates before the rollout halts (nil: 50%).
    public var maxUnreached: String?

    public static let defaultRetryUnreachedSeconds: Int64 = 15 * 60
    public static let defaultReachDeadlineSeconds: Int64 = 7 * 24 * 3_600
    public static let defaultMaxUnreached = FailureThreshold.percent(50)
    /// The verified file `stage` puts on each host before `install` (nil: no `artifact:` block, no stage).
    public var artifact: PlannedArtifact?
    /// `steps.artifact_dir` per OS (`linux`, `windows`) where the playbook set it; else the defaults of
    /// ``ArtifactPlacement``.
    public var artifactDir: [String: String]?

    public init(playbook: Playbook, artifact: PlannedArtifact? = nil) {
        var steps: [String: [String: String]] = [:]
        let commands: [(HostStep, StepCommand?)] = [
            (.detect, playbook.steps.detect), (.install, playbook.steps.install),
            (.verify, playbook.steps.verify), (.rollback, playbook.steps.rollback),
        ]
        for (step, command) in commands {
            guard let command else { continue }
            steps[step.rawValue] = Dictionary(
                uniqueKeysWithValues: command.byOS.map { ($0.key.rawValue, $0.value.source) })
        }
        let reboot = playbook.steps.reboot
        for (step, command, fallback) in [
            (HostStep.reboot, reboot.command, RebootSpec.defaultRebootCommand),
            (HostStep.userCheck, reboot.userCheck, RebootSpec.defaultUserCheck),
        ] {
            steps[step.rawValue] = Dictionary(
                uniqueKeysWithValues: OSFamily.allCases.map { os in
                    (os.rawValue, command?.template(for: os)?.source ?? fallback(os))
                })
        }
        exitCodes = Dictionary(
            uniqueKeysWithValues: OSFamily.allCases.map { os in
                let map = ExitCodeMap.effective(for: os, overrides: reboot.exitCodes)
                return (os.rawValue, Dictionary(uniqueKeysWithValues: map.entries.map { ("\($0.key)", $0.value) }))
            })
        self.reboot = reboot.policy
        rebootTimeoutSeconds = reboot.timeout.seconds
        self.steps = steps
        timeoutSeconds = playbook.steps.timeout.seconds
        idempotent = playbook.steps.idempotent
        maxFailures = playbook.rollout.maxFailures.description
        onFailure = playbook.rollout.onFailure
        window = playbook.rollout.window
        scheme = playbook.feed?.scheme ?? .dotted
        retryUnreachedSeconds = playbook.rollout.retryUnreached.seconds
        reachDeadlineSeconds = playbook.rollout.reachDeadline.seconds
        maxUnreached = playbook.rollout.maxUnreached.description
        self.artifact = artifact
        let dirs = playbook.steps.artifactDir
        artifactDir = dirs.isEmpty ? nil : Dictionary(uniqueKeysWithValues: dirs.map { ($0.key.rawValue, $0.value) })
    }

    /// Where the artifact goes on a host of `os`; nil when the rollout has no artifact.
    public func artifactPlacement(for os: OSFamily) -> ArtifactPlacement? {
        guard let artifact else { return nil }
        return ArtifactPlacement(
            os: os, directory: artifactDir?[os.rawValue] ?? ArtifactPlacement.defaultDirectory(for: os),
            name: artifact.name)
    }

    /// Milliseconds between attempts to reach a deferred host (at least one second).
    public var retryUnreachedMillis: EpochMillis {
        max(1, retryUnreachedSeconds ?? Self.defaultRetryUnreachedSeconds) * 1000
    }

    /// Milliseconds after a host's first attempt until a deferred host is given up as `unreached`.
    public var reachDeadlineMillis: EpochMillis {
        max(0, reachDeadlineSeconds ?? Self.defaultReachDeadlineSeconds) * 1000
    }

    /// The unreachable-host threshold, parsed back.
    public var unreachedThreshold: FailureThreshold {
        guard let maxUnreached else { return Self.defaultMaxUnreached }
        if maxUnreached.hasSuffix("%"), let p = Int(maxUnreached.dropLast()) { return .percent(p) }
        return Int(maxUnreached).map { .count($0) } ?? Self.defaultMaxUnreached
    }

    /// The failure threshold, parsed back.
    public var threshold: FailureThreshold {
        if maxFailures.hasSuffix("%"), let p = Int(maxFailures.dropLast()) { return .percent(p) }
        return .count(Int(maxFailures) ?? 0)
    }

    /// What an `install` exit code means on a host of `os`; nil: the install failed.
    public func exitAction(_ code: Int32, os: OSFamily) -> ExitCodeAction? {
        guard let map = exitCodes?[os.rawValue] else { return ExitCodeMap.defaults(for: os).action(for: code) }
        return map["\(code)"]
    }

    public var rebootPolicy: RebootPolicy { reboot ?? .never }

    /// How long to wait for a restarting host (default 20 minutes).
    public var rebootTimeout: Int64 { rebootTimeoutSeconds ?? 1_200 }

    /// The template of a step for an OS, parsed; nil when the recipe has none.
    public func template(_ step: HostStep, for os: OSFamily) -> CommandTemplate? {
        let fallback: String? =
            switch step {
            case .reboot: RebootSpec.defaultRebootCommand(for: os)
            case .userCheck: RebootSpec.defaultUserCheck(for: os)
            default: nil
            }
        guard let source = steps[step.rawValue]?[os.rawValue] ?? fallback else { return nil }
        return try? CommandTemplate.parse(source).get()
    }
}
