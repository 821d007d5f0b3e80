import Foundation
import ITVCore
import Testing

@testable import ITVEngine

/// auto_plan inside the engine: a timer at the release's `min_age`, a store lookup by procedure and version,
/// and a store that cannot answer plans nothing.
@Suite struct EngineAutoPlanTests {
    static let day: Int64 = 86_400

    /// `count` auto_plan procedures (`p000`, ...) on `hosts` hosts; procedure `i` targets group `g<i>`, which
    /// holds every host whose number is `i` modulo `count`. One operator wave: a planned rollout waits.
    static func autoPlanSet(procedures count: Int = 1, hosts: Int = 6, minAge: Int64 = 0) -> LoadedSet {
        let here = ITVCore.SourceLocation(file: "test.yaml", line: 1, column: 1)
        let inventory = Inventory(
            tenants: ["t": Tenant(id: "t", name: "T")],
            hosts: (0..<hosts).map {
                Host(
                    name: String(format: "h%03d", $0), address: "127.0.0.1", tenant: "t",
                    groups: [String(format: "g%03d", $0 % count)], location: here)
            })
        let step = StepCommand(all: template("true"))
        let playbooks = (0..<count).map { i in
            Playbook(
                id: procedure(i), name: "P", vendor: "V", targets: [Located(String(format: "g%03d", i), at: here)],
                feed: FeedSpec(
                    kind: .json, url: "https://v.example/\(i)", select: "v", minAge: TimeSpan(seconds: minAge)),
                steps: Steps(detect: step, install: step, verify: step, rollback: step),
                rollout: RolloutSpec(
                    autoPlan: true, waves: [WaveSpec(name: "all", size: .rest, approval: .operator)]),
                origin: here)
        }
        return LoadedSet(config: DaemonConfig(), inventory: inventory, playbooks: playbooks)
    }

    static func procedure(_ i: Int) -> String { String(format: "p%03d", i) }

    static func release(_ procedure: String, _ version: String, seen: EpochMillis) -> ReleaseRecord {
        ReleaseRecord(procedure: procedure, version: version, firstSeen: seen, feedURL: "https://v.example/")
    }

    static func versions(_ store: MemoryStore) async -> [String] {
        await store.rollouts.values.sorted { $0.id < $1.id }.map { "\($0.procedure) \($0.version)" }
    }

    /// Waits until auto_plan has nothing left to do but `timers` timers parked on the clock.
    static func settled(_ h: EngineHarness, _ clock: ManualClock, timers: Int) async throws {
        try await until {
            let state = await h.engine.autoPlans
            return state.timers.count == timers && state.firing == 0 && clock.sleeping == timers
        }
    }

    @Test func aYoungReleaseIsPlannedByATimerAtItsMinAgeAndOnlyOnce() async throws {
        let clock = ManualClock()
        let h = try await EngineHarness(
            set: Self.autoPlanSet(minAge: Self.day), fleet: FakeFleet(hosts: [:]), clock: clock)
        let release = Self.release("p000", "2.0", seen: clock.now())
        try await h.store.preload([.release(release)])
        await h.engine.releaseDetected(release)
        // Not planned, and not polled for: one timer waits for the moment the release is a day old.
        #expect(await h.store.rollouts.isEmpty)
        try await until { clock.nextWake == release.firstSeen + Self.day * 1_000 }
        clock.advance(seconds: Double(Self.day - 1))
        #expect(clock.nextWake == release.firstSeen + Self.day * 1_000, "a second early: the timer still waits")
        #expect(await h.store.rollouts.isEmpty)
        clock.advance(seconds: 1)
        try await until { await Self.versions(h.store) == ["p000 2.0"] }
        #expect(await h.store.rollouts.values.first?.createdBy == "itvd")
        // Seen again, reloaded: never a second rollout of the version.
        await h.engine.releaseDetected(release)
        await h.engine.reload(Self.autoPlanSet(minAge: Self.day))
        try await Self.settled(h, clock, timers: 0)
        #expect(await Self.versions(h.store) == ["p000 2.0"])
    }

    /// A store that cannot say whether a version was planned plans nothing (the old scan took a read error for
    /// "never planned"); it is asked again after 30 s, and plans once it answers.
    @Test func aStoreThatCannotBeReadPlansNothingAndIsAskedAgain() async throws {
        let clock = ManualClock()
        let store = MemoryStore()
        await store.failHasRollout(StoreError(kind: .io, message: "disk I/O error"))
        let release = Self.release("p000", "2.0", seen: clock.now() - 1_000)
        try await store.preload([.release(release)])
        let h = try await EngineHarness(
            set: Self.autoPlanSet(), fleet: FakeFleet(hosts: [:]), store: store, clock: clock)
        await h.engine.releaseDetected(release)
        try await until { clock.nextWake == clock.now() + AutoPlan.retrySeconds * 1_000 }
        #expect(await store.rollouts.isEmpty)
        // Still failing at the retry: still nothing, and another retry.
        clock.advance(seconds: Double(AutoPlan.retrySeconds))
        try await until { clock.nextWake == clock.now() + AutoPlan.retrySeconds * 1_000 }
        #expect(await store.rollouts.isEmpty)
        await store.failHasRollout(nil)
        clock.advance(seconds: Double(AutoPlan.retrySeconds))
        try await until { await Self.versions(store) == ["p000 2.0"] }
    }

    /// "Already planned?" is a lookup by procedure and version: a version planned before 10,000 newer rollouts
    /// (the old scan's limit) is still known, and not planned again.
    @Test func aVersionPlannedLongAgoIsNotPlannedAgain() async throws {
        let clock = ManualClock()
        let set = Self.autoPlanSet()
        let store = MemoryStore()
        let recipe = RolloutRecipe(playbook: set.playbooks[0])
        func finished(_ id: Int64, _ procedure: String, _ version: String) -> StoreChange {
            .rollout(
                RolloutRecord(
                    id: id, procedure: procedure, version: version, phase: .rolledBack, planHash: "h", recipe: recipe,
                    createdAt: 1, createdBy: "alice", updatedAt: 1))
        }
        try await store.preload(
            [finished(1, "p000", "2.0")] + (2...10_002).map { finished(Int64($0), "other", "1.\($0)") }
                + [.release(Self.release("p000", "2.0", seen: 1))])
        let h = try await EngineHarness(set: set, fleet: FakeFleet(hosts: [:]), store: store, clock: clock)
        try await Self.settled(h, clock, timers: 0)
        #expect(await store.rollouts.count == 10_002, "rolled back long ago: not planned again")
        // A newer version is.
        let newer = Self.release("p000", "2.1", seen: 2)
        try await store.preload([.release(newer)])
        await h.engine.releaseDetected(newer)
        #expect(
            await store.rollouts.values.filter { $0.procedure == "p000" }.map(\.version).sorted() == ["2.0", "2.1"])
    }

    /// While a rollout of the procedure is active, a due release waits; it is planned when that rollout ends,
    /// without any poll.
    @Test func aDueReleaseWaitsForTheActiveRolloutAndIsPlannedWhenItEnds() async throws {
        let clock = ManualClock()
        let h = try await EngineHarness(set: Self.autoPlanSet(), fleet: FakeFleet(hosts: [:]), clock: clock)
        let running = try await h.engine.createRollout(procedure: "p000", version: "1.0", by: alice).rollout.id
        let release = Self.release("p000", "2.0", seen: clock.now())
        try await h.store.preload([.release(release)])
        await h.engine.releaseDetected(release)
        try await Self.settled(h, clock, timers: 0)
        #expect(await Self.versions(h.store) == ["p000 1.0"])
        _ = try await h.engine.abort(running, by: alice, reason: "superseded")
        try await until { await Self.versions(h.store) == ["p000 1.0", "p000 2.0"] }
        #expect(await h.store.rollouts.values.first { $0.version == "2.0" }?.phase == .waitingApproval)
    }

    /// Field size: 300 auto_plan procedures on 800 hosts, each with a due release when the engine starts: each
    /// is planned exactly once, and a reload plans nothing more.
    @Test func threeHundredProceduresArePlannedOnceEach() async throws {
        let clock = ManualClock()
        let set = Self.autoPlanSet(procedures: 300, hosts: 800)
        let store = MemoryStore()
        try await store.preload(
            (0..<300).flatMap { i in
                ["1.0", "1.10", "1.9"].map { Self.release(Self.procedure(i), $0, seen: 1) }.map(StoreChange.release)
            })
        let started = ContinuousClock.now
        let h = try await EngineHarness(set: set, fleet: FakeFleet(hosts: [:]), store: store, clock: clock)
        try await until { await store.rollouts.count == 300 }
        let elapsed = ContinuousClock.now - started
        try await Self.settled(h, clock, timers: 0)
        let planned = await store.rollouts.values.map { "\($0.procedure) \($0.version)" }
        #expect(Set(planned) == Set((0..<300).map { "\(Self.procedure($0)) 1.10" }), "the newest of each")
        await h.engine.reload(set)
        try await Self.settled(h, clock, timers: 0)
        #expect(await store.rollouts.count == 300)
        #expect(elapsed < .seconds(60), "300 procedures planned in \(elapsed)")
        print("auto_plan: 300 procedures on 800 hosts planned in \(elapsed)")
    }
}
