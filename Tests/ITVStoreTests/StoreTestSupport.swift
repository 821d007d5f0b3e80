import Foundation
import ITVCore
import ITVEngine
@_exported import ITVTestSupport
import Testing

@testable import ITVStore

/// A fresh directory of the test's own (`mktemp -d` style), removed when `body` ends, also on failure.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let dir = try TempDir()
    defer { withExtendedLifetime(dir) {} }
    return try await body(dir.path)
}

/// A second open of `dir` while `first` holds it is refused as locked, naming `holder` (this process unless
/// told); once `first` committed rollout 1 and closed, the directory opens again with the rollout in it.
/// The store opened last, for the caller to close.
func expectRefusedWhileHeldThenReopened(
    _ dir: String, _ first: SQLiteRolloutStore, refused: StoreError?,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) async throws -> SQLiteRolloutStore {
    #expect(refused?.kind == .locked, sourceLocation: sourceLocation)
    #expect(
        refused?.message == "another itvd (pid \(getpid())) is using the state directory \(dir)",
        sourceLocation: sourceLocation)
    try await first.commit([.rollout(try rolloutRecord(id: 1))])
    await first.close()
    let second = try await SQLiteRolloutStore.open(stateDirectory: dir)
    #expect(
        try await second.rollouts(includeFinished: true, limit: 10).map(\.id) == [1], sourceLocation: sourceLocation)
    return second
}

/// Opens a store in a new subdirectory `state` of `root`, runs `body`, then closes it.
func withStore<T>(in root: String, _ body: (SQLiteRolloutStore) async throws -> T) async throws -> T {
    let store = try await SQLiteRolloutStore.open(stateDirectory: root + "/state")
    do {
        let result = try await body(store)
        await store.close()
        return result
    } catch {
        await store.close()
        throw error
    }
}

/// Runs a throwing call and returns the `StoreError` it threw (nil if it did not throw one).
func storeError(_ body: () async throws -> Void) async -> StoreError? {
    do {
        try await body()
        return nil
    } catch let error as StoreError {
        return error
    } catch {
        Issue.record("expected a StoreError, got \(error)")
        return nil
    }
}

/// RolloutRecipe has no memberwise initializer (it is made from a playbook); its Codable form is stable.
func recipe(idempotent: Bool = false, window: String? = nil) throws -> RolloutRecipe {
    let windowJSON = window.map { "\"window\":\"\($0)\"," } ?? ""
    let json = """
        {"steps":{"detect":{"linux":"cat /opt/app/VERSION"},"install":{"linux":"install {{version}}",
        "windows":"install.exe {{version}}"}},"timeoutSeconds":600,"idempotent":\(idempotent),
        "maxFailures":"5%","onFailure":"rollback",\(windowJSON)"scheme":"semver"}
        """
    return try JSONDecoder().decode(RolloutRecipe.self, from: Data(json.utf8))
}

func rolloutRecord(id: Int64, phase: RolloutPhase = .running, at: EpochMillis = 1_700_000_000_000) throws
    -> RolloutRecord
{
    RolloutRecord(
        id: id, procedure: "app", version: "2.1.0", phase: phase, resumePhase: phase == .paused ? .running : nil,
        currentWave: 1, planHash: "sha256:abc", recipe: try recipe(window: "evening"), reason: "because \(id)",
        createdAt: at, createdBy: "alice", updatedAt: at + 5)
}

func waveRecord(rollout: Int64, index: Int, phase: WavePhase = .pending) -> WaveRecord {
    WaveRecord(
        rolloutID: rollout, index: index, name: "wave-\(index)", approval: index == 0 ? .auto : .operator,
        approvalsNeeded: index == 0 ? 0 : 2, bakeSeconds: 300, parallel: index == 0 ? nil : 4, phase: phase,
        startedAt: phase == .pending ? nil : 1_700_000_001_000, finishedAt: phase == .done ? 1_700_000_002_000 : nil)
}

func hostRunRecord(rollout: Int64, host: String, wave: Int, phase: HostRunPhase = .pending) -> HostRunRecord {
    HostRunRecord(
        rolloutID: rollout, host: host, wave: wave, phase: phase, step: phase == .pending ? nil : .install,
        stepInFlight: phase == .running, previous: phase == .pending ? nil : "2.0.9", changed: phase != .pending,
        installAttempts: phase == .pending ? 0 : 1, errorKind: phase == .failed ? "exit_status" : nil,
        error: phase == .failed ? "install exited 3" : nil, updatedAt: 1_700_000_003_000)
}

/// The bytes and modification time of a file, to show that a refused open left it untouched.
struct FileFingerprint: Equatable {
    let bytes: Data
    let modified: Date?

    init(path: String) throws {
        bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        modified = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
    }
}

/// A store with a few hundred host runs (one rollout, 400 hosts in 4 waves), closed, so everything is
/// checkpointed into the main file: enough b-tree pages for the corruption and open-safety tests.
func makeStoreWithManyPages(_ dir: String) async throws {
    let store = try await SQLiteRolloutStore.open(stateDirectory: dir)
    var changes: [StoreChange] = [.rollout(try rolloutRecord(id: 1))]
    for i in 0..<400 {
        changes.append(.hostRun(hostRunRecord(rollout: 1, host: "host-\(i).example.org", wave: i / 100)))
    }
    try await store.commit(changes)
    await store.close()
}
