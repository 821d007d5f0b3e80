/// The stable kind of every refusal and failure of itv's own errors (`RolloutError`, `PlanError`,
/// `EngineError`, `StoreError`): one type, so that a kind is never a string typed twice.
///
/// Each kind says, where it is declared, how the control socket answers a request it refuses (`answer`); the
/// control service maps `Answer` to the wire's `ErrorKind` with an exhaustive switch, so a kind can neither
/// fall through to `internal` by a typo nor be added without an answer. Adding a kind is one line here:
///
///     public static let artifactRejected = ITVErrorKind("artifact_rejected", .invalidRequest)
///
/// `rawValue` is stable: it goes into journal fields, audit outcomes (`error: conflict`) and messages.
public struct ITVErrorKind: Hashable, Sendable, CustomStringConvertible {
    /// How a request refused with the kind is answered: the wire kinds (ITVProtocol's `ErrorKind`) an error of
    /// the daemon may become. A new wire kind is a new case here and a new line in the control service's switch.
    public enum Answer: Hashable, Sendable, CaseIterable {
        case invalidRequest
        case permissionDenied
        case notFound
        case conflict
        case planChanged
        case alreadyApproved
        case artifactRejected
        case unavailable
        case `internal`
    }

    public let rawValue: String
    public let answer: Answer

    public init(_ rawValue: String, _ answer: Answer) {
        self.rawValue = rawValue
        self.answer = answer
    }

    public var description: String { rawValue }

    // MARK: Refusals of the state machine and the engine (`RolloutError`, `EngineError`)

    /// No such rollout, host in the rollout or window.
    public static let notFound = ITVErrorKind("not_found", .notFound)
    /// Not possible in this phase, or the store's one-active-rollout constraint refused the change.
    public static let conflict = ITVErrorKind("conflict", .conflict)
    /// The plan changed since the approver saw it.
    public static let planChanged = ITVErrorKind("plan_changed", .planChanged)
    /// This operator already approved the waiting wave (four eyes).
    public static let alreadyApproved = ITVErrorKind("already_approved", .alreadyApproved)
    /// The request cannot be done as asked (no rollback step, a plan that cannot be made, a bad duration).
    public static let invalid = ITVErrorKind("invalid", .invalidRequest)
    /// The engine cannot work now (its store failed).
    public static let unavailable = ITVErrorKind("unavailable", .unavailable)
    public static let artifactRejected = ITVErrorKind("artifact_rejected", .artifactRejected)

    // MARK: Why a rollout cannot be planned (`PlanError`)

    public static let noHosts = ITVErrorKind("no_hosts", .invalidRequest)
    public static let duplicateHost = ITVErrorKind("duplicate_host", .invalidRequest)
    public static let noWaves = ITVErrorKind("no_waves", .invalidRequest)
    public static let duplicateWave = ITVErrorKind("duplicate_wave", .invalidRequest)
    public static let multipleRestWaves = ITVErrorKind("multiple_rest_waves", .invalidRequest)
    public static let invalidSize = ITVErrorKind("invalid_size", .invalidRequest)
    public static let emptyWave = ITVErrorKind("empty_wave", .invalidRequest)
    public static let unknownHost = ITVErrorKind("unknown_host", .invalidRequest)
    public static let overlappingWaves = ITVErrorKind("overlapping_waves", .invalidRequest)
    public static let unknownGroup = ITVErrorKind("unknown_group", .invalidRequest)
    public static let uncoveredHosts = ITVErrorKind("uncovered_hosts", .invalidRequest)

    // MARK: Why the store cannot do what was asked (`StoreError`); `conflict` above is the store's too

    /// Another itvd uses the state directory.
    public static let locked = ITVErrorKind("locked", .unavailable)
    /// A store existed and its file is gone.
    public static let missing = ITVErrorKind("missing", .unavailable)
    /// A store existed and its file is empty.
    public static let empty = ITVErrorKind("empty", .unavailable)
    /// The state directory has no store yet (internal to opening: becomes `missing` or a created store).
    public static let new = ITVErrorKind("new", .unavailable)
    public static let corrupt = ITVErrorKind("corrupt", .unavailable)
    public static let unreadable = ITVErrorKind("unreadable", .unavailable)
    /// Not the store created in that directory.
    public static let replaced = ITVErrorKind("replaced", .unavailable)
    /// Written by a newer itvd.
    public static let tooNew = ITVErrorKind("too_new", .unavailable)
    /// `--init-store` of a healthy store.
    public static let initRefused = ITVErrorKind("init_refused", .unavailable)
    /// A change that breaks a constraint other than one active rollout per procedure (e.g. a host run of a
    /// rollout that is not stored): a bug, not the caller's request. Its raw value is the store's `invalid`,
    /// but unlike the engine's `invalid` it is answered `unavailable`.
    public static let constraintBroken = ITVErrorKind("invalid", .unavailable)
    public static let io = ITVErrorKind("io", .unavailable)
}
