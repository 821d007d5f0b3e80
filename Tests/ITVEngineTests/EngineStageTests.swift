import Foundation
import ITVCore
import Testing

@testable import ITVEngine

/// The `stage` step through the engine, on fakes: what is uploaded from the cache, when, how often, and what
/// happens around crashes and dropped connections. The real SFTP side is `StageFleetTests` (ITVSSHTests).
@Suite("Engine: stage")
struct EngineStageTests {
    /// A cache directory with one artifact in it, as the download side leaves it: `sha256/<hex>`.
    static func cache(_ bytes: [UInt8] = Array("installer bytes".utf8)) throws -> (String, PlannedArtifact) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("itv-stage-\(UUID().uuidString)").path
        let sha = ITVCore.SHA256.hexDigest(bytes)
        try FileManager.default.createDirectory(atPath: dir + "/sha256", withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/sha256/" + sha))
        return (dir, PlannedArtifact(name: "app-2.0.msi", size: Int64(bytes.count), sha256: sha))
    }

    static let oneWave = makeSet(hosts: 4, waves: [WaveSpec(name: "all", size: .rest, approval: .auto)], window: nil)

    /// Puts a started rollout of `app` 2.0 with `artifact` into the store, as a daemon that planned it would
    /// have (the plan hash is the planner's, so the engine sees no plan change).
    static func seed(_ store: MemoryStore, set: LoadedSet, artifact: PlannedArtifact) async throws -> Int64 {
        let playbook = set.playbooks[0]
        guard
            case .success(let planned) = WavePlanner.plan(playbook: playbook, inventory: set.inventory, version: "2.0")
        else { throw EngineError(.invalid, "test plan") }
        let plan = RolloutPlan(
            procedure: planned.procedure, version: planned.version, waves: planned.waves, hash: planned.hash,
            artifact: artifact)
        let id = try await store.handle().allocateRolloutID()
        var machine = RolloutStateMachine.create(
            id: id, plan: plan, recipe: RolloutRecipe(playbook: playbook, artifact: plan.artifact), createdBy: "alice",
            now: 1)
        _ = machine.handle(.start, now: 2)
        try await store.commit(machine.snapshot.changes(since: nil))
        return id
    }

    static func fleet(_ n: Int) -> FakeFleet {
        FakeFleet(hosts: Dictionary(uniqueKeysWithValues: (1...n).map { (String(format: "h%02d", $0), "1.0") }))
    }

    @Test("every host gets the artifact before install, at the default directory, once")
    func stagesBeforeInstall() async throws {
        let (cache, artifact) = try Self.cache()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let store = MemoryStore()
        let id = try await Self.seed(store, set: Self.oneWave, artifact: artifact)
        let fleet = Self.fleet(4)
        let h = try await EngineHarness(set: Self.oneWave, fleet: fleet, store: store, artifactCache: cache)
        let done = try await h.wait(id) { $0.phase == .succeeded }
        #expect(done.hostRuns.allSatisfy { $0.phase == .succeeded })
        for name in ["h01", "h02", "h03", "h04"] {
            let host = await fleet.state(name)
            #expect(host?.ledger == ["detect", "stage /var/cache/itv/app-2.0.msi", "install '2.0'", "verify '2.0'"])
            #expect(host?.files["/var/cache/itv/app-2.0.msi"] == artifact.sha256)
            #expect(host?.uploads == 1)
        }
    }

    @Test("a dropped stage is sent again; three drops fail the host, which is never installed")
    func droppedStagesAreRetried() async throws {
        let (cache, artifact) = try Self.cache()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let set = makeSet(
            hosts: 2, waves: [WaveSpec(name: "all", size: .rest, approval: .auto)], maxFailures: .count(1), window: nil)
        let store = MemoryStore()
        let id = try await Self.seed(store, set: set, artifact: artifact)
        let fleet = Self.fleet(2)
        await fleet.set("h01") { $0.interruptStages = 2 }
        await fleet.set("h02") { $0.interruptStages = 3 }
        let h = try await EngineHarness(set: set, fleet: fleet, store: store, artifactCache: cache)
        let done = try await h.wait(id) { $0.phase.isFinal }
        #expect(done.run("h01")?.phase == .succeeded)
        #expect(await fleet.state("h01")?.ledger.filter { $0.hasPrefix("stage") }.count == 3)
        #expect(done.run("h02")?.phase == .failed)
        #expect(done.run("h02")?.errorKind == "no_exit_status")
        #expect(done.run("h02")?.changed == false)
        #expect(await fleet.state("h02")?.ledger.contains { $0.hasPrefix("install") } == false)
        #expect(await fleet.state("h02")?.version == "1.0")
    }

    @Test("an artifact missing from the cache (or of another size) fails every host before anything is sent")
    func missingArtifact() async throws {
        let (cache, artifact) = try Self.cache()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        try FileManager.default.removeItem(atPath: cache + "/sha256/" + artifact.sha256)
        let set = makeSet(
            hosts: 2, waves: [WaveSpec(name: "all", size: .rest, approval: .auto)], maxFailures: .count(5), window: nil)
        let store = MemoryStore()
        let id = try await Self.seed(store, set: set, artifact: artifact)
        let fleet = Self.fleet(2)
        let h = try await EngineHarness(set: set, fleet: fleet, store: store, artifactCache: cache)
        let done = try await h.wait(id) { $0.phase.isFinal }
        for run in done.hostRuns {
            #expect(run.phase == .failed)
            #expect(run.errorKind == "artifact_missing")
        }
        for name in ["h01", "h02"] { #expect(await fleet.state(name)?.ledger == ["detect"]) }

        // A file of another size under the hash's name is not offered either.
        try Data("short".utf8).write(to: URL(fileURLWithPath: cache + "/sha256/" + artifact.sha256))
        let store2 = MemoryStore()
        let id2 = try await Self.seed(store2, set: set, artifact: artifact)
        let fleet2 = Self.fleet(2)
        let h2 = try await EngineHarness(set: set, fleet: fleet2, store: store2, artifactCache: cache)
        let done2 = try await h2.wait(id2) { $0.phase.isFinal }
        #expect(done2.hostRuns.allSatisfy { $0.errorKind == "artifact_missing" })
        #expect(await fleet2.state("h01")?.files.isEmpty == true)
    }

    @Test("kill -9 while stages are in flight: after restart each stage is sent again, install once")
    func crashDuringStage() async throws {
        let (cache, artifact) = try Self.cache()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let store = MemoryStore()
        let id = try await Self.seed(store, set: Self.oneWave, artifact: artifact)
        let fleet = Self.fleet(4)
        await fleet.hold(true, command: "stage")
        let h = try await EngineHarness(set: Self.oneWave, fleet: fleet, store: store, artifactCache: cache)
        try await until { await fleet.heldCount == 4 }
        try await h.crashAndRestart(set: Self.oneWave)
        // The old process's stages end now; their results die with it.
        await fleet.releaseInstalls()
        let done = try await h.wait(id) { $0.phase == .succeeded }
        #expect(done.hostRuns.allSatisfy { $0.phase == .succeeded })
        for name in ["h01", "h02", "h03", "h04"] {
            let ledger = await fleet.state(name)?.ledger ?? []
            #expect(ledger.filter { $0.hasPrefix("stage") }.count == 2, "\(name): \(ledger)")
            #expect(ledger.filter { $0.hasPrefix("install") }.count == 1, "\(name): \(ledger)")
            #expect(await fleet.state(name)?.uploads == 1)
        }
    }

    /// The count of stages sent in a row is persisted: a stage that never finishes (here: the daemon dies
    /// while each one runs) is sent at most `maxStageAttempts` times across restarts, then the host fails and
    /// is never installed. Before it was persisted, every restart started counting again: sent forever.
    @Test("a stage cut by every restart is sent three times in all, then the host fails, never installed")
    func stageAttemptsSurviveRestarts() async throws {
        let (cache, artifact) = try Self.cache()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let set = makeSet(
            hosts: 1, waves: [WaveSpec(name: "all", size: .rest, approval: .auto)], maxFailures: .count(1), window: nil)
        let store = MemoryStore()
        let id = try await Self.seed(store, set: set, artifact: artifact)
        let fleet = Self.fleet(1)
        await fleet.hold(true, command: "stage")
        let h = try await EngineHarness(set: set, fleet: fleet, store: store, artifactCache: cache)
        for sent in 1...RolloutStateMachine.maxStageAttempts {
            try await until { await fleet.heldCount == sent }
            #expect(await store.rollout(id: id)?.run("h01")?.stageAttempts == sent)
            try await h.crashAndRestart(set: set)
        }
        let done = try await h.wait(id) { $0.run("h01")?.phase.isSettled == true }
        await fleet.releaseInstalls()
        let run = try #require(done.run("h01"))
        #expect(run.phase == .failed && run.errorKind == "interrupted", "\(run)")
        #expect(run.error?.contains("stage did not finish in 3 attempts, install not sent") == true, "\(run)")
        let ledger = await fleet.state("h01")?.ledger ?? []
        #expect(ledger.filter { $0.hasPrefix("stage") }.count == 3, "\(ledger)")
        #expect(!ledger.contains { $0.hasPrefix("install") }, "\(ledger)")
        #expect(await fleet.state("h01")?.version == "1.0")
    }

    @Test("{{artifact}} renders as the quoted path on the host; steps.artifact_dir moves it")
    func artifactVariable() async throws {
        let (cache, artifact) = try Self.cache()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        var set = makeSet(hosts: 1, waves: [WaveSpec(name: "all", size: .rest, approval: .auto)], window: nil)
        set.playbooks[0].steps.install = StepCommand(all: template("install {{version}} from {{artifact}}"))
        set.playbooks[0].steps.artifactDir = [.linux: "/opt/it's here"]
        let store = MemoryStore()
        let id = try await Self.seed(store, set: set, artifact: artifact)
        let fleet = Self.fleet(1)
        let h = try await EngineHarness(set: set, fleet: fleet, store: store, artifactCache: cache)
        // The fake host reads the install's first word after `install` as the version; only the ledger counts here.
        try await h.wait(id) { $0.hostRuns.allSatisfy { $0.phase.isSettled } }
        let ledger = await fleet.state("h01")?.ledger ?? []
        #expect(ledger.contains("stage /opt/it's here/app-2.0.msi"))
        #expect(ledger.contains(#"install '2.0' from '/opt/it'\''s here/app-2.0.msi'"#))
    }
}
