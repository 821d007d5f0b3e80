import Foundation
import ITVCore
import Synchronization
import Testing

@testable import ITVEngine

/// An artifact source whose next outcome the test sets; counts the attempts.
final class FakeArtifactSource: ArtifactSource, Sendable {
    private let state = Mutex<(outcome: ArtifactOutcome, calls: Int, requests: [ArtifactRequest])>(
        (.failed(FeedFetchError(.connectFailed, "not set")), 0, []))

    func set(_ outcome: ArtifactOutcome) { state.withLock { $0.outcome = outcome } }
    var calls: Int { state.withLock { $0.calls } }
    /// Every request, in order.
    var requests: [ArtifactRequest] { state.withLock { $0.requests } }

    func obtain(_ request: ArtifactRequest) async -> ArtifactOutcome {
        try? await Task.sleep(for: .milliseconds(5))
        return state.withLock {
            $0.calls += 1
            $0.requests.append(request)
            return $0.outcome
        }
    }

    func cachedFile(sha256: String) -> String? { nil }
}

private let shaA = String(repeating: "a", count: 64)
private let shaB = String(repeating: "b", count: 64)

private func verified(_ sha: String, size: Int64 = 1_000) -> ArtifactOutcome {
    .verified(
        VerifiedArtifact(
            url: "https://v.example/app-2.0.msi", name: "app-2.0.msi", size: size, sha256: sha, verifiedBy: "sha256sum",
            downloaded: true))
}

/// `makeSet` with an `artifact:` block on its procedure.
private func artifactSet(hosts: Int = 2, waves: [WaveSpec]? = nil) -> LoadedSet {
    var set = makeSet(
        hosts: hosts,
        waves: waves ?? [WaveSpec(name: "all", size: .rest, approval: .operator, approvals: 1)], window: nil)
    set.playbooks[0].artifact = ArtifactSpec(
        url: "https://v.example/app-{{version}}.msi", checksums: .sha256sum(url: "https://v.example/SHA256SUMS"))
    return set
}

private func harness(_ set: LoadedSet, _ source: FakeArtifactSource, store: MemoryStore = MemoryStore()) async throws
    -> EngineHarness
{
    let h = try await EngineHarness(set: set, fleet: FakeFleet(hosts: ["h01": "1.0", "h02": "1.0"]), store: store)
    try await h.engine.attachArtifacts(source)
    return h
}

private func kind(_ body: () async throws -> Void) async -> String {
    do {
        try await body()
        return "ok"
    } catch let e as EngineError {
        return e.kind.rawValue + ": " + e.message
    } catch {
        return "\(error)"
    }
}

@Suite struct EngineArtifactTests {
    @Test func theVerifiedArtifactIsInThePlanAndItsHash() async throws {
        let source = FakeArtifactSource()
        source.set(verified(shaA, size: 4_321))
        let set = artifactSet()
        let h = try await harness(set, source)
        let plan = try await h.engine.plan(procedure: "app", version: "2.0")
        #expect(plan.artifact == PlannedArtifact(name: "app-2.0.msi", size: 4_321, sha256: shaA))
        let expected = try WavePlanner.plan(
            playbook: set.playbooks[0], inventory: set.inventory, version: "2.0", artifact: plan.artifact
        ).get()
        #expect(plan.hash == expected.hash)
        let without = try WavePlanner.plan(playbook: set.playbooks[0], inventory: set.inventory, version: "2.0").get()
        #expect(plan.hash != without.hash)
        // Recorded in the store, verified.
        let records = await h.store.commitLog.flatMap { $0 }.compactMap { c -> ArtifactRecord? in
            if case .artifact(let r) = c { return r }
            return nil
        }
        #expect(records.map(\.state) == [.verified])
        #expect(records.first?.sha256 == shaA)
    }

    @Test func aRejectedReleaseCannotBePlannedOrStarted() async throws {
        let source = FakeArtifactSource()
        source.set(
            .rejected(
                ArtifactRejection("checksum_mismatch", "bytes differ", expected: shaA, actual: shaB)))
        let h = try await harness(artifactSet(), source)
        let plan = await kind { _ = try await h.engine.plan(procedure: "app", version: "2.0") }
        #expect(plan.hasPrefix("artifact_rejected: release 2.0 of app is rejected"))
        #expect(plan.contains("expected SHA-256 \(shaA), actual \(shaB)"))
        let start = await kind { _ = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice) }
        #expect(start.hasPrefix("artifact_rejected:"))
        #expect(await h.engine.activeSnapshots().isEmpty)
        #expect(await h.engine.artifactList().map(\.state) == [.rejected])
        #expect(await h.engine.artifactList().first?.rejection == "checksum_mismatch")
    }

    @Test("artifact.rejected is an outbox record in the transaction of the rejection, once per refusal")
    func aRejectionIsNotified() async throws {
        let source = FakeArtifactSource()
        source.set(.rejected(ArtifactRejection("checksum_mismatch", "bytes differ", expected: shaA, actual: shaB)))
        let clock = ManualClock()
        let h = try await EngineHarness(
            set: artifactSet(), fleet: FakeFleet(hosts: ["h01": "1.0", "h02": "1.0"]), clock: clock)
        try await h.engine.attachArtifacts(source)
        let sinks = [
            NotifySink(name: "chat", kind: .webhook, events: [.artifactRejected], url: "https://x.example/"),
            NotifySink(name: "mail", kind: .email, events: [.rolloutFailed], url: "smtp://m.example"),
        ]
        await h.engine.setNotify(sinks: sinks, waker: OutboxWaker())
        _ = await kind { _ = try await h.engine.plan(procedure: "app", version: "2.0") }
        let log = await h.store.commitLog
        let transaction = try #require(
            log.first { changes in changes.contains { if case .outbox = $0 { true } else { false } } })
        #expect(transaction.contains { if case .artifact(let r) = $0 { r.state == .rejected } else { false } })
        var records = await h.store.outboxRecords
        #expect(records.map(\.sink) == ["chat"], "only the sink that subscribed to artifact.rejected")
        let message = try #require(records.first.flatMap { NotifyMessage.decode($0.payload) })
        #expect(message.event == .artifactRejected)
        #expect(message.procedure == "app" && message.version == "2.0" && message.tenants == ["t"])
        #expect(message.message.contains("expected SHA-256 \(shaA), actual \(shaB)"))
        #expect(message.command == "itvctl artifact list --procedure app")
        // An hour later the same refusal again: journaled and notified once already.
        clock.advance(seconds: 3_601)
        _ = await kind { _ = try await h.engine.plan(procedure: "app", version: "2.0") }
        #expect(source.calls == 2)
        #expect(await h.store.outboxRecords.count == 1)
        // Another refusal (the vendor's checksum file lost the entry) is news.
        clock.advance(seconds: 3_601)
        source.set(.rejected(ArtifactRejection("missing_entry", "no line for app-2.0.msi")))
        _ = await kind { _ = try await h.engine.plan(procedure: "app", version: "2.0") }
        records = await h.store.outboxRecords
        #expect(records.count == 2)
        #expect(
            records.compactMap { NotifyMessage.decode($0.payload)?.message }.last?.contains("missing_entry") == true)
    }

    @Test("sha256_from_feed: the digest kept with the release goes to the source, also after a restart")
    func theFeedsDigestComesFromTheRelease() async throws {
        let source = FakeArtifactSource()
        source.set(verified(shaA))
        var set = artifactSet()
        set.playbooks[0].artifact?.checksums = .feed(select: "sha256")
        let store = MemoryStore()
        try await store.preload([
            .release(
                ReleaseRecord(
                    procedure: "app", version: "2.0", firstSeen: 1, feedURL: "https://v.example/x", feedSHA256: shaA)),
            .release(ReleaseRecord(procedure: "app", version: "2.1", firstSeen: 2, feedURL: "https://v.example/x")),
        ])
        let h = try await harness(set, source, store: store)
        #expect(try await h.engine.plan(procedure: "app", version: "2.0").artifact?.sha256 == shaA)
        #expect(source.requests.map(\.feedSHA256) == [shaA])
        // A release whose entry gave none: the source is asked with none (and rejects it: missing_entry).
        source.set(.rejected(ArtifactRejection("missing_entry", "the feed entry of 2.1 has no SHA-256 at 'sha256'")))
        let refused = await kind { _ = try await h.engine.plan(procedure: "app", version: "2.1") }
        #expect(refused.hasPrefix("artifact_rejected:") && refused.contains("missing_entry"))
        #expect(source.requests.last?.version == "2.1" && source.requests.last?.feedSHA256 == nil)
        // After a restart the digest is read from the store again.
        try await h.crashAndRestart(set: set)
        let again = FakeArtifactSource()
        again.set(verified(shaA))
        try await h.engine.attachArtifacts(again)
        _ = try await h.engine.prepareArtifact(procedure: "app", version: "2.0")
        #expect(again.requests.map(\.feedSHA256) == [shaA])
    }

    @Test func aTransientFailureIsUnavailableAndRecordsNothing() async throws {
        let source = FakeArtifactSource()
        source.set(.failed(FeedFetchError(.connectFailed, "v.example: connection refused")))
        let h = try await harness(artifactSet(), source)
        let plan = await kind { _ = try await h.engine.plan(procedure: "app", version: "2.0") }
        #expect(plan.hasPrefix("unavailable: cannot download the artifact of app 2.0 now"))
        #expect(await h.engine.artifactList().isEmpty)
        // It works once the vendor is back.
        source.set(verified(shaA))
        #expect(try await h.engine.plan(procedure: "app", version: "2.0").artifact?.sha256 == shaA)
    }

    @Test func aVendorReplacingTheFileVoidsTheApprovals() async throws {
        let source = FakeArtifactSource()
        source.set(verified(shaA))
        let h = try await harness(artifactSet(), source)
        let s = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice)
        let id = s.rollout.id
        _ = try await h.wait(id) { $0.phase == .waitingApproval }
        // The checksum file now names other bytes, which verify: a new plan hash for the same version.
        source.set(verified(shaB))
        let replanned = try await h.engine.plan(procedure: "app", version: "2.0")
        #expect(replanned.hash != s.rollout.planHash)
        let approve = await kind {
            _ = try await h.engine.approve(id, planHash: s.rollout.planHash, comment: nil, by: bob)
        }
        #expect(approve.hasPrefix("plan_changed"))
        #expect(await h.engine.artifactList().first?.sha256 == shaB)
    }

    /// `steps.artifact_dir` changes where the approved bytes land: a changed directory is a changed plan, and
    /// approvals given for the old one no longer count.
    @Test func aChangedArtifactDirectoryVoidsTheApprovals() async throws {
        let source = FakeArtifactSource()
        source.set(verified(shaA))
        let set = artifactSet()
        let h = try await harness(set, source)
        let s = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice)
        let id = s.rollout.id
        _ = try await h.wait(id) { $0.phase == .waitingApproval }
        var moved = set
        moved.playbooks[0].steps.artifactDir = [.linux: "/srv/itv-cache"]
        await h.engine.reload(moved)
        #expect(try await h.engine.plan(procedure: "app", version: "2.0").hash != s.rollout.planHash)
        let approve = await kind {
            _ = try await h.engine.approve(id, planHash: s.rollout.planHash, comment: nil, by: bob)
        }
        #expect(approve.hasPrefix("plan_changed"), "\(approve)")
        // Back to the directory it was planned with: the plan is the approved one again.
        await h.engine.reload(set)
        _ = try await h.engine.approve(id, planHash: s.rollout.planHash, comment: nil, by: bob)
    }

    @Test func concurrentPlansShareOneAttempt() async throws {
        let source = FakeArtifactSource()
        source.set(verified(shaA))
        let h = try await harness(artifactSet(), source)
        let engine = h.engine
        let hashes = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<20 { group.addTask { try? await engine.plan(procedure: "app", version: "2.0").hash } }
            var all: [String?] = []
            for await h in group { all.append(h) }
            return all
        }
        #expect(Set(hashes).count == 1 && hashes.first! != nil)
        #expect(source.calls < 20)
    }

    @Test func aPlaybookWithoutArtifactIsUntouched() async throws {
        let source = FakeArtifactSource()
        let set = makeSet(hosts: 2, window: nil)
        let h = try await harness(set, source)
        let plan = try await h.engine.plan(procedure: "app", version: "2.0")
        #expect(plan.artifact == nil)
        #expect(source.calls == 0)
    }
}

@Suite struct EngineArtifactCacheTests {
    /// `artifacts.max_bytes` never removes the artifact of an active rollout or of the newest 3 releases.
    @Test func theCacheKeepsActiveRolloutsAndTheNewestThreeReleases() async throws {
        let source = FakeArtifactSource()
        let h = try await harness(artifactSet(), source)
        func sha(_ i: Int) -> String { String(repeating: "\(i)", count: 64) }
        source.set(verified(sha(1)))
        let s = try await h.engine.createRollout(procedure: "app", version: "1.0", by: alice)
        _ = try await h.wait(s.rollout.id) { $0.phase == .waitingApproval }
        for i in 2...5 {
            source.set(verified(sha(i)))
            try await h.engine.prepareArtifact(procedure: "app", version: "\(i).0")
        }
        #expect(await h.engine.artifactsToKeep() == [sha(1), sha(5), sha(4), sha(3)])
        _ = try await h.engine.abort(s.rollout.id, by: alice, reason: "test")
        _ = try await h.wait(s.rollout.id) { $0.phase.isFinal }
        try await until { await h.engine.artifactsToKeep() == [sha(5), sha(4), sha(3)] }
    }
}
