import ITVCore
import Logging

/// When a detected release may become a rollout without an operator (`rollout.auto_plan`, `feed.min_age`).
public enum AutoPlan: Hashable, Sendable {
    /// The playbook does not plan automatically (or has no feed).
    case never
    /// Old enough: create the rollout (waiting for its first wave) now.
    case now
    /// Too young: check again at this time (wall-clock milliseconds, as `EngineClock.now`).
    case at(EpochMillis)

    /// The rule of docs/PRODUCT.md: `auto_plan: true` and the release is older than `min_age` (measured from when
    /// the watcher first saw it, never from a date the feed claims).
    public static func decide(_ playbook: Playbook, release: ReleaseRecord, now: EpochMillis) -> AutoPlan {
        guard playbook.rollout.autoPlan, let feed = playbook.feed else { return .never }
        let due = release.firstSeen + feed.minAge.seconds * 1_000
        return due <= now ? .now : .at(due)
    }

    /// How long auto_plan waits before it asks the store again after a read failed.
    public static let retrySeconds: Int64 = 30

    /// What a timer plans when it fires.
    enum Target: Hashable, Sendable {
        /// This release, if it is due and was never planned.
        case release(ReleaseRecord)
        /// The newest stored release of the procedure (at start, after a reload, after a rollout ended).
        case newest(procedure: String)

        /// One timer per key: a release (procedure and version), or a procedure's newest.
        var key: String {
            switch self {
            case .release(let r): r.procedure + "\u{0}" + r.version
            case .newest(let procedure): procedure + "\u{0}"
            }
        }
    }

    /// The engine's auto_plan bookkeeping.
    struct State {
        /// `procedure NUL version` pairs known to have had a rollout: rollouts are never deleted, so the store
        /// is asked once per version.
        var planned: Set<String> = []
        /// Pairs being planned now (between the first check and the engine's answer): a release seen twice at
        /// the same moment is planned once.
        var planning: Set<String> = []
        /// Timers waiting, by target key, with the time each fires: a target has one timer per time.
        var timers: [String: EpochMillis] = [:]
        /// Timers that fired and are planning now (0: auto_plan waits only for its timers).
        var firing = 0
    }
}

// auto_plan: a release becomes a rollout once it is old enough, by a timer at `AutoPlan.at`; never twice for a
// version (asked of the store by procedure and version); a store that cannot be read plans nothing and is asked
// again after `AutoPlan.retrySeconds`.
extension RolloutEngine {
    /// A release the feed watcher has just stored: planned now when it is due, else by a timer when it is.
    public func releaseDetected(_ release: ReleaseRecord) async {
        // A new release of an `artifact:` playbook: its installer is downloaded and verified now, so that a bad
        // one is journaled (and the release shown rejected) before anyone plans it.
        if set.playbooks.contains(where: { $0.id == release.procedure && $0.artifact != nil }) {
            Task { _ = try? await self.prepareArtifact(procedure: release.procedure, version: release.version) }
        }
        await autoPlan(.release(release))
    }

    /// Schedules the newest release of every `auto_plan` procedure (at start and after a reload).
    func scheduleAutoPlans() {
        for p in set.playbooks where p.rollout.autoPlan && p.feed != nil {
            scheduleAutoPlan(.newest(procedure: p.id), at: clock.now())
        }
    }

    /// A rollout of `procedure` ended: its newest release may now be planned (it waited for this one).
    func autoPlanAfterEnd(of procedure: String) {
        guard set.playbooks.contains(where: { $0.id == procedure && $0.rollout.autoPlan }) else { return }
        scheduleAutoPlan(.newest(procedure: procedure), at: clock.now())
    }

    /// A timer action: `autoPlan(target)` at `at` (at once when that is past). One per target and time.
    func scheduleAutoPlan(_ target: AutoPlan.Target, at: EpochMillis) {
        guard !stopping, autoPlans.timers[target.key] != at else { return }
        autoPlans.timers[target.key] = at
        workContinuation.yield(.autoPlan(target, at: at))
    }

    /// A timer fired: forgets it, then plans.
    func autoPlanTimerFired(_ target: AutoPlan.Target, at: EpochMillis) async {
        autoPlans.firing += 1
        defer { autoPlans.firing -= 1 }
        if autoPlans.timers[target.key] == at { autoPlans.timers[target.key] = nil }
        await autoPlan(target)
    }

    func autoPlan(_ target: AutoPlan.Target) async {
        switch target {
        case .release(let release):
            await autoPlan(release)
        case .newest(let procedure):
            guard let playbook = set.playbooks.first(where: { $0.id == procedure }), playbook.rollout.autoPlan,
                let feed = playbook.feed
            else { return }
            let releases: [ReleaseRecord]
            do {
                releases = try await store.releases(procedure: procedure)
            } catch {
                autoPlanReadFailed(target, procedure: procedure, "cannot read the releases of \(procedure): \(error)")
                return
            }
            let newest = releases.compactMap { r in (try? feed.scheme.parse(r.version).get()).map { ($0, r) } }
                .max { $0.0 < $1.0 }
            if let (_, record) = newest { await autoPlan(record) }
        }
    }

    /// Plans `release` if its playbook says so, it is old enough, no rollout of the procedure is active and no
    /// rollout of the version ever existed.
    func autoPlan(_ release: ReleaseRecord) async {
        guard !stopping, storeFailure == nil,
            let playbook = set.playbooks.first(where: { $0.id == release.procedure })
        else { return }
        switch AutoPlan.decide(playbook, release: release, now: clock.now()) {
        case .never: return
        case .at(let due):
            scheduleAutoPlan(.release(release), at: due)
            return
        case .now: break
        }
        let key = AutoPlan.Target.release(release).key
        if autoPlans.planned.contains(key) || autoPlans.planning.contains(key) { return }
        // Decided before the first await: a second call for the same release meanwhile returns above.
        autoPlans.planning.insert(key)
        defer { autoPlans.planning.remove(key) }
        let active = machines.values.map(\.rollout).filter { $0.procedure == release.procedure }
        if !active.isEmpty {
            if active.contains(where: { $0.version == release.version }) { autoPlans.planned.insert(key) }
            return  // another rollout of the procedure is active: planned when it ends (`autoPlanAfterEnd`)
        }
        // Once per version: never again after a rollout of it existed (even one that was rolled back).
        let planned: Bool
        do {
            planned = try await store.hasRollout(procedure: release.procedure, version: release.version)
        } catch {
            // Not knowing is not "never planned": nothing is planned until the store answers.
            autoPlanReadFailed(
                .release(release), procedure: release.procedure,
                "cannot tell whether \(release.procedure) \(release.version) was planned before: \(error)")
            return
        }
        if planned {
            autoPlans.planned.insert(key)
            return
        }
        do {
            let s = try await createRollout(
                procedure: release.procedure, version: release.version, by: .daemon, comment: "auto_plan")
            autoPlans.planned.insert(key)
            logger.notice(
                "auto_plan: rollout \(s.rollout.id) of \(release.procedure) \(release.version) created",
                metadata: ["procedure": "\(release.procedure)", "rollout": "\(s.rollout.id)"])
        } catch let refusal as EngineError where refusal.kind == .conflict {
            // An operator started a rollout of the procedure at the same moment: planned after it ends (and
            // asked again in a while, should that start fail).
            logger.info(
                "auto_plan: \(release.procedure) \(release.version) not planned now: \(refusal.message)",
                metadata: ["procedure": "\(release.procedure)"])
            scheduleAutoPlan(.release(release), at: clock.now() + AutoPlan.retrySeconds * 1_000)
        } catch let refusal as EngineError where refusal.kind == .artifactRejected {
            // Journaled at critical as artifact.rejected already; never planned by itself again.
            autoPlans.planned.insert(key)
            logger.warning(
                "auto_plan: \(release.procedure) \(release.version) is not planned: \(refusal.message)",
                metadata: ["procedure": "\(release.procedure)"])
        } catch {
            logger.error(
                "auto_plan: cannot plan \(release.procedure) \(release.version): \(error)",
                metadata: ["procedure": "\(release.procedure)"])
        }
    }

    private func autoPlanReadFailed(_ target: AutoPlan.Target, procedure: String, _ message: String) {
        logger.error(
            "auto_plan: \(message); nothing is planned, asking again in \(AutoPlan.retrySeconds) s",
            metadata: ["procedure": "\(procedure)"])
        scheduleAutoPlan(target, at: clock.now() + AutoPlan.retrySeconds * 1_000)
    }
}
