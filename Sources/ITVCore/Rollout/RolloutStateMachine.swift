/// The rollout of one procedure to one version, as a pure state machine: events in, actions out; no clock
/// (`now` is passed in), no I/O. The engine persists the records this changes, then performs the actions.
///
/// Rules, in the operators' words:
/// - Waves run one after another. A wave starts when its approval is complete: `auto` at once after the
///   previous wave finished and baked, `operator` when enough different users approved the current plan,
///   `window` when the rollout's patch window is open.
/// - Host runs are dispatched only while the rollout runs and, when the recipe names a window, while that
///   window is open, and a host whose tenant names windows only while one of them is open; at most `parallel` of a wave at once. A host run that started finishes its steps
///   even when the window closes or the rollout is paused; an abort stops it after the step in flight.
/// - A host run is `detect` (the found version becomes `previous`; the target version means
///   `already_current`), then `stage` (only when the rollout has an artifact: the verified file is put on
///   the host), then `install`, then `verify`; only `verify` exiting 0 is success.
/// - When the wave's failed and unknown hosts exceed `max_failures`, nothing more is dispatched and the
///   rollout halts (`on_failure: halt`) or rolls back (`on_failure: rollback`).
/// - An `install` whose outcome is unknown is settled by `detect`: the target version means it worked;
///   otherwise it is sent again only if the recipe is idempotent, else the host is `unknown` and waits for
///   an operator (`retry` or `skip`).
public struct RolloutStateMachine: Sendable {
    public internal(set) var snapshot: RolloutSnapshot
    /// Whether the rollout's patch window is open (runtime state, fed by `windowChanged`).
    public internal(set) var windowOpen: Bool
    /// Hosts that may not start now because their tenant's windows are closed (runtime state, fed by
    /// `tenantWindowsChanged`).
    public internal(set) var heldHosts: Set<String> = []
    /// The hash a plan made now would have, when it differs from the rollout's plan.
    public internal(set) var changedPlanHash: String?
    /// Runtime state set by the engine while the daemon stops: no host run starts (a step not sent because
    /// of the stop puts its host back to pending, and that host must not be dispatched again at once).
    public var dispatchHeld = false
    /// Runtime state set by the engine from the inventory: each host's OS, which decides what an
    /// `install` exit code means (`steps.exit_codes`). A host not listed is Linux.
    public var hostOS: [String: OSFamily] = [:]
    /// Runtime state: the time of the last `scheduleTimer` asked for (nil after a restart, or once it fired).
    public internal(set) var armedTimer: EpochMillis?

    /// How often `install` may be sent to one host automatically (after unknown outcomes).
    public static let maxInstallAttempts = 3
    /// How often `stage` is sent in a row when its outcome could not be learned, restarts included
    /// (`HostRunRecord.stageAttempts`, persisted).
    public static let maxStageAttempts = 3

    var hostIndex: [String: Int]
    var actions: [RolloutAction] = []
    var now: EpochMillis = 0

    public init(snapshot: RolloutSnapshot, windowOpen: Bool = false, heldHosts: Set<String> = []) {
        self.snapshot = snapshot
        self.windowOpen = windowOpen
        self.heldHosts = heldHosts
        hostIndex = Dictionary(
            snapshot.hostRuns.enumerated().map { ($0.element.host, $0.offset) }, uniquingKeysWith: { a, _ in a })
    }

    /// A new rollout in phase `planned`, every host pending in its planned wave.
    public static func create(
        id: Int64, plan: RolloutPlan, recipe: RolloutRecipe, createdBy: String, now: EpochMillis,
        wakeLeads: [String: Int64] = [:]
    ) -> RolloutStateMachine {
        let rollout = RolloutRecord(
            id: id, procedure: plan.procedure, version: plan.version, planHash: plan.hash, recipe: recipe,
            createdAt: now, createdBy: createdBy, updatedAt: now)
        let waves = plan.waves.map {
            WaveRecord(
                rolloutID: id, index: $0.index, name: $0.spec.name, approval: $0.spec.approval,
                approvalsNeeded: $0.spec.approvals, bakeSeconds: $0.spec.bake.seconds, parallel: $0.spec.parallel)
        }
        let runs = plan.waves.flatMap { wave in
            wave.hosts.map {
                HostRunRecord(rolloutID: id, host: $0, wave: wave.index, updatedAt: now, wakeLeadSeconds: wakeLeads[$0])
            }
        }
        return RolloutStateMachine(
            snapshot: RolloutSnapshot(rollout: rollout, waves: waves, approvals: [], hostRuns: runs))
    }

    public var rollout: RolloutRecord { snapshot.rollout }

    /// Applies one event. On error nothing changed.
    public mutating func handle(_ event: RolloutInput, now: EpochMillis) -> Result<[RolloutAction], RolloutError> {
        let before = (snapshot, windowOpen, changedPlanHash, heldHosts)
        self.now = now
        actions = []
        do {
            try apply(event)
        } catch {
            (snapshot, windowOpen, changedPlanHash, heldHosts) = before
            actions = []
            return .failure(error)
        }
        progress()
        if snapshot != before.0 { snapshot.rollout.updatedAt = now }
        let next = nextTimer
        if let next, next != armedTimer || event == .recover { emit(.scheduleTimer(at: next)) }
        armedTimer = next
        let result = actions
        actions = []
        return .success(result)
    }

    // MARK: - Queries

    public var currentWave: WaveRecord? {
        snapshot.waves.indices.contains(rollout.currentWave) ? snapshot.waves[rollout.currentWave] : nil
    }

    public func hostRuns(inWave wave: Int) -> [HostRunRecord] { snapshot.hostRuns.filter { $0.wave == wave } }

    public func hostRun(_ host: String) -> HostRunRecord? { hostIndex[host].map { snapshot.hostRuns[$0] } }

    /// Failed and unknown hosts of a wave: what `max_failures` counts.
    public func failures(inWave wave: Int) -> Int {
        hostRuns(inWave: wave).filter { $0.phase == .failed || $0.phase == .unknown }.count
    }

    /// Approvals of a wave that count: for the current plan, one per user.
    public func validApprovals(wave: Int) -> [ApprovalRecord] {
        var seen = Set<UInt32>()
        return snapshot.approvals.filter {
            $0.wave == wave && $0.planHash == rollout.planHash && changedPlanHash == nil && seen.insert($0.uid).inserted
        }
    }

    // MARK: - Internals shared by the extensions

    func phaseName(_ phase: RolloutPhase) -> String { phase.rawValue.replacingUnderscores() }

    mutating func update(_ host: String, _ change: (inout HostRunRecord) -> Void) {
        guard let i = hostIndex[host] else { return }
        change(&snapshot.hostRuns[i])
        snapshot.hostRuns[i].updatedAt = now
    }

    mutating func setWave(_ index: Int, _ change: (inout WaveRecord) -> Void) {
        guard snapshot.waves.indices.contains(index) else { return }
        change(&snapshot.waves[index])
    }

    mutating func emit(_ action: RolloutAction) { actions.append(action) }
}

extension String {
    func replacingUnderscores() -> String { String(map { $0 == "_" ? " " : $0 }) }
}
