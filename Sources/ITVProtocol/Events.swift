/// One line of `GET /v1/rollouts/{id}/events` (NDJSON: one JSON document per line).
///
/// The first event is a `snapshot` with the whole rollout; later events carry what changed. The daemon ends
/// the stream after an event in which the rollout is final or waits for a person.
public struct RolloutEvent: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// `detail` holds the whole rollout.
        case snapshot
        /// `rollout` changed (phase, current wave, reason).
        case rollout
        /// `wave` changed.
        case wave
        /// `host_run` changed.
        case hostRun = "host_run"
        /// `approval` was given.
        case approval
    }

    public var kind: Kind
    public var at: Int64
    public var detail: RolloutDetail?
    public var rollout: RolloutInfo?
    public var wave: WaveInfo?
    public var hostRun: HostRunInfo?
    public var approval: ApprovalInfo?

    public init(
        kind: Kind, at: Int64, detail: RolloutDetail? = nil, rollout: RolloutInfo? = nil, wave: WaveInfo? = nil,
        hostRun: HostRunInfo? = nil, approval: ApprovalInfo? = nil
    ) {
        self.kind = kind
        self.at = at
        self.detail = detail
        self.rollout = rollout
        self.wave = wave
        self.hostRun = hostRun
        self.approval = approval
    }

    public static func snapshot(_ detail: RolloutDetail, at: Int64) -> RolloutEvent {
        RolloutEvent(kind: .snapshot, at: at, detail: detail)
    }

    /// The rollout's phase after this event, when the event says.
    public var rolloutPhase: RolloutInfo.Phase? { detail?.rollout.phase ?? rollout?.phase }

    /// True when the watch stream ends after this event: the rollout is final or waits for a person.
    public var endsWatch: Bool {
        guard let phase = rolloutPhase else { return false }
        return phase.isFinal || phase.waitsForPerson
    }
}
