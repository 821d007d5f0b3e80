import Foundation
import ITVCore
import Logging
import Testing

@testable import ITVEngine

func template(_ s: String) -> CommandTemplate {
    // The tests' templates are constants; a broken one is a bug in the test.
    guard case .success(let t) = CommandTemplate.parse(s) else { fatalError("bad test template \(s)") }
    return t
}

/// A set with one procedure `app` on `hosts` hosts (h01, h02, ...) in three waves: canary (1 host, auto),
/// pilot (2 hosts, operator), broad (rest, window `evening`).
func makeSet(
    hosts: Int = 6, waves: [WaveSpec]? = nil, maxFailures: FailureThreshold = .count(0),
    onFailure: FailurePolicy = .halt, idempotent: Bool = false, window: String? = "evening",
    retryUnreached: Int64 = 900, reachDeadline: Int64 = 7 * 86_400, maxUnreached: FailureThreshold = .percent(50),
    reboot: RebootSpec = RebootSpec()
) -> LoadedSet {
    let here = ITVCore.SourceLocation(file: "test.yaml", line: 1, column: 1)
    let inventory = Inventory(
        tenants: ["t": Tenant(id: "t", name: "T")],
        hosts: (1...hosts).map {
            Host(name: String(format: "h%02d", $0), address: "127.0.0.1", tenant: "t", groups: ["all"], location: here)
        })
    let steps = Steps(
        detect: StepCommand(all: template("detect")), install: StepCommand(all: template("install {{version}}")),
        verify: StepCommand(all: template("verify {{version}}")),
        rollback: StepCommand(all: template("rollback {{previous}}")), timeout: TimeSpan(seconds: 60),
        idempotent: idempotent, reboot: reboot)
    let specs =
        waves ?? [
            WaveSpec(name: "canary", size: .count(1), approval: .auto),
            WaveSpec(name: "pilot", size: .count(2), approval: .operator),
            WaveSpec(name: "broad", size: .rest, approval: window == nil ? .auto : .window),
        ]
    let playbook = Playbook(
        id: "app", name: "App", vendor: "V", targets: [Located("all", at: here)],
        feed: FeedSpec(kind: .json, url: "https://v.example/x", select: "v"), steps: steps,
        rollout: RolloutSpec(
            waves: specs, maxFailures: maxFailures, onFailure: onFailure, window: window,
            retryUnreached: TimeSpan(seconds: retryUnreached), reachDeadline: TimeSpan(seconds: reachDeadline),
            maxUnreached: maxUnreached),
        origin: here)
    var config = DaemonConfig()
    config.windows = ["evening": WindowSpec(name: "evening")]
    return LoadedSet(config: config, inventory: inventory, playbooks: [playbook])
}

let alice = Requester(user: "alice", uid: 1001)
let bob = Requester(user: "bob", uid: 1002)

/// An engine running on fakes, with its `run()` loop in a task.
final class EngineHarness: @unchecked Sendable {
    let store: MemoryStore
    let fleet: FakeFleet
    var engine: RolloutEngine
    var loop: Task<Void, Never>

    let artifactCache: String?

    init(
        set: LoadedSet, fleet: FakeFleet, store: MemoryStore = MemoryStore(), clock: any EngineClock = InstantClock(),
        artifactCache: String? = nil
    ) async throws {
        self.store = store
        self.fleet = fleet
        self.artifactCache = artifactCache
        var logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        engine = RolloutEngine(
            set: set, store: await store.handle(), executor: FakeExecutor(fleet: fleet), clock: clock,
            logger: logger, artifactCache: artifactCache)
        let e = engine
        loop = Task { await e.run() }
        try await engine.start()
    }

    /// Simulates kill -9: the old engine's store handle dies, its loop is cancelled, a new engine starts on
    /// the same store (and the same fleet, whose hosts keep what already happened).
    func crashAndRestart(set: LoadedSet) async throws {
        await store.crash()
        loop.cancel()
        var logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        engine = RolloutEngine(
            set: set, store: await store.handle(), executor: FakeExecutor(fleet: fleet), clock: InstantClock(),
            logger: logger, artifactCache: artifactCache)
        let e = engine
        loop = Task { await e.run() }
        try await engine.start()
    }

    deinit { loop.cancel() }

    /// Waits until the rollout's snapshot satisfies `predicate` (polling; generous deadline).
    @discardableResult
    func wait(
        _ id: Int64, timeout: Double = 120, _ predicate: @escaping (RolloutSnapshot) -> Bool,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) async throws -> RolloutSnapshot {
        let deadline = Date().addingTimeInterval(timeout)
        var last = try await engine.snapshot(id)
        while Date() < deadline {
            last = try await engine.snapshot(id)
            if predicate(last), !last.hostRuns.contains(where: \.stepInFlight) { return last }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("timed out waiting; rollout is \(last.rollout.phase.rawValue)", sourceLocation: sourceLocation)
        return last
    }
}

extension RolloutSnapshot {
    var phase: RolloutPhase { rollout.phase }
    func run(_ host: String) -> HostRunRecord? { hostRuns.first { $0.host == host } }
}

/// Waits until `condition` holds (polling; a generous deadline, then a test failure instead of a hang).
func until(
    timeout: Double = 120, sourceLocation: Testing.SourceLocation = #_sourceLocation, _ condition: () async -> Bool
) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(2))
    }
    Issue.record("condition not reached in \(timeout) s", sourceLocation: sourceLocation)
}
