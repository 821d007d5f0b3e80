import Foundation
import ITVCore
import ITVEngine
import Testing

@testable import ITVStore

@Suite struct RoundTripTests {
    @Test func everyRolloutRecordComesBackAsCommitted() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                let rollout = try rolloutRecord(id: 7)
                let waves = [waveRecord(rollout: 7, index: 0, phase: .done), waveRecord(rollout: 7, index: 1)]
                let approval = ApprovalRecord(
                    rolloutID: 7, wave: 1, source: .operator, user: "bob", uid: 4_000_000_000, comment: "go",
                    planHash: "sha256:abc", at: 1_700_000_004_000)
                var runs = [
                    hostRunRecord(rollout: 7, host: "web-1", wave: 0, phase: .succeeded),
                    hostRunRecord(rollout: 7, host: "web-2", wave: 0, phase: .failed),
                    hostRunRecord(rollout: 7, host: "db-1", wave: 1, phase: .running),
                ]
                // A stage sent twice in a row without a known outcome: the count survives (issue 14).
                runs[2].step = .stage
                runs[2].stageAttempts = 2
                try await store.commit(
                    [.rollout(rollout)] + waves.map(StoreChange.wave) + [.approval(approval)]
                        + runs.map(StoreChange.hostRun))
                let snapshot = try #require(try await store.rollout(id: 7))
                #expect(
                    snapshot == RolloutSnapshot(rollout: rollout, waves: waves, approvals: [approval], hostRuns: runs))
                #expect(try await store.rollout(id: 8) == nil)
                #expect(try await store.activeRollouts() == [snapshot])
            }
        }
    }

    @Test func operationalRecordsComeBackAsCommitted() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                let releases = [
                    ReleaseRecord(procedure: "app", version: "2.0.0", firstSeen: 10, feedURL: "https://f/app"),
                    ReleaseRecord(procedure: "app", version: "2.1.0", firstSeen: 20, feedURL: "https://f/app"),
                    ReleaseRecord(procedure: "db", version: "15.2", firstSeen: 5, feedURL: "https://f/db"),
                ]
                let versions = [
                    HostVersionRecord(host: "web-1", procedure: "app", version: "2.0.0", seenAt: 30),
                    HostVersionRecord(host: "web-1", procedure: "db", version: nil, seenAt: 31),
                ]
                let windows = [
                    WindowRecord(name: "evening", openUntil: 99, changedBy: "carol", changedAt: 40),
                    WindowRecord(name: "night", openUntil: nil, changedBy: "itvd", changedAt: 41),
                ]
                try await store.commit(
                    releases.map(StoreChange.release) + versions.map(StoreChange.hostVersion)
                        + windows.map(StoreChange.window)
                        + [.feedState(procedure: "app", json: #"{"etag":"\"x\""}"#)])
                #expect(try await store.releases(procedure: nil) == releases)
                #expect(try await store.releases(procedure: "app") == Array(releases.prefix(2)))
                #expect(try await store.releases(procedure: "none").isEmpty)
                #expect(try await store.hostVersions() == versions)
                #expect(try await store.windows() == windows)
                #expect(try await store.feedStates() == ["app": #"{"etag":"\"x\""}"#])
            }
        }
    }

    @Test func upsertsReplaceByNaturalKey() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                var rollout = try rolloutRecord(id: 1)
                var wave = waveRecord(rollout: 1, index: 0)
                var run = hostRunRecord(rollout: 1, host: "web-1", wave: 0)
                var window = WindowRecord(name: "evening", openUntil: 99, changedBy: "carol", changedAt: 40)
                var seen = HostVersionRecord(host: "web-1", procedure: "app", version: "2.0.0", seenAt: 30)
                var release = ReleaseRecord(procedure: "app", version: "2.1.0", firstSeen: 20, feedURL: "https://a")
                let first: [StoreChange] = [
                    .rollout(rollout), .wave(wave), .hostRun(run), .window(window), .hostVersion(seen),
                    .release(release), .feedState(procedure: "app", json: "{}"),
                ]
                try await store.commit(first)
                rollout.phase = .halted
                rollout.reason = "too many failures"
                wave.phase = .halted
                run.phase = .failed
                run.errorKind = "timeout"
                window.openUntil = nil
                seen.version = "2.1.0"
                release.feedURL = "https://b"
                try await store.commit([
                    .rollout(rollout), .wave(wave), .hostRun(run), .window(window), .hostVersion(seen),
                    .release(release), .feedState(procedure: "app", json: #"{"n":2}"#),
                ])
                let snapshot = try #require(try await store.rollout(id: 1))
                #expect(snapshot.rollout == rollout)
                #expect(snapshot.waves == [wave])
                #expect(snapshot.hostRuns == [run])
                #expect(try await store.windows() == [window])
                #expect(try await store.hostVersions() == [seen])
                #expect(try await store.releases(procedure: nil) == [release])
                #expect(try await store.feedStates() == ["app": #"{"n":2}"#])
            }
        }
    }

    @Test func auditAndApprovalsAppendAndAuditFiltersBySince() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                let entries = (0..<6).map { (i: Int) -> AuditRecord in
                    let at: EpochMillis = 1000 + EpochMillis(i / 2) * 100
                    let comment: String? = i == 0 ? nil : "c\(i)"
                    return AuditRecord(
                        at: at, user: "u\(i)", uid: UInt32(1000 + i), action: "rollout.approve", target: "rollout 1",
                        comment: comment, outcome: "ok")
                }
                // The same entry twice is two entries: audit appends.
                try await store.commit(entries.map(StoreChange.audit) + [.audit(entries[5])])
                let all = try await store.audit(since: nil, limit: 100)
                #expect(all.map(\.user) == ["u0", "u1", "u2", "u3", "u4", "u5", "u5"])
                #expect(Set(all.compactMap(\.id)).count == 7)
                let withoutIDs = all.map { (entry: AuditRecord) -> AuditRecord in
                    var copy = entry
                    copy.id = nil
                    return copy
                }
                #expect(withoutIDs == entries + [entries[5]])
                #expect(try await store.audit(since: 1100, limit: 100).map(\.user) == ["u2", "u3", "u4", "u5", "u5"])
                #expect(try await store.audit(since: 1101, limit: 100).map(\.user) == ["u4", "u5", "u5"])
                #expect(try await store.audit(since: 1100, limit: 2).map(\.user) == ["u2", "u3"])
                #expect(try await store.audit(since: 5000, limit: 10).isEmpty)

                let rollout = try rolloutRecord(id: 3)
                let approval = ApprovalRecord(
                    rolloutID: 3, wave: 0, source: .operator, user: "bob", uid: 1001, comment: nil,
                    planHash: "p", at: 5)
                var second = approval
                second.user = "carol"
                try await store.commit([.rollout(rollout), .approval(approval)])
                try await store.commit([.approval(second), .approval(approval)])
                let approvals = try #require(try await store.rollout(id: 3)).approvals
                #expect(approvals == [approval, second, approval])
            }
        }
    }

    @Test func hostRunsKeepTheOrderOfFirstInsertAndWavesTheirIndexOrder() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                try await store.commit([.rollout(try rolloutRecord(id: 2))])
                // Waves committed out of order; host runs of wave 1 committed before those of wave 0.
                try await store.commit([
                    .wave(waveRecord(rollout: 2, index: 2)), .wave(waveRecord(rollout: 2, index: 0)),
                ])
                try await store.commit([.wave(waveRecord(rollout: 2, index: 1))])
                let wave1 = ["z-host", "a-host", "m-host"].map { hostRunRecord(rollout: 2, host: $0, wave: 1) }
                let wave0 = ["web-9", "web-10", "web-1"].map { hostRunRecord(rollout: 2, host: $0, wave: 0) }
                try await store.commit(wave1.map(StoreChange.hostRun))
                try await store.commit(wave0.map(StoreChange.hostRun))
                // Updating a host run later does not move it.
                var updated = wave0[0]
                updated.phase = .succeeded
                try await store.commit([.hostRun(wave0[2]), .hostRun(updated)])
                let snapshot = try #require(try await store.rollout(id: 2))
                #expect(snapshot.waves.map(\.index) == [0, 1, 2])
                #expect(snapshot.hostRuns.map(\.host) == ["web-9", "web-10", "web-1", "z-host", "a-host", "m-host"])
                #expect(snapshot.hostRuns[0].phase == .succeeded)
            }
        }
    }

    @Test func rolloutListsAreNewestFirstAndFinishedOnesOnlyWhenAsked() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                let phases: [RolloutPhase] = [.succeeded, .running, .aborted, .paused, .rolledBack, .failed, .planned]
                var records: [RolloutRecord] = []
                for (offset, phase) in phases.enumerated() {
                    var record = try rolloutRecord(id: Int64(offset + 1), phase: phase)
                    record.procedure = "app-\(offset + 1)"  // at most one active rollout per procedure
                    records.append(record)
                }
                try await store.commit(records.map(StoreChange.rollout))
                #expect(try await store.rollouts(includeFinished: true, limit: 100).map(\.id) == [7, 6, 5, 4, 3, 2, 1])
                #expect(try await store.rollouts(includeFinished: true, limit: 3).map(\.id) == [7, 6, 5])
                #expect(try await store.rollouts(includeFinished: false, limit: 100).map(\.id) == [7, 4, 2])
                #expect(try await store.activeRollouts().map(\.rollout.id) == [2, 4, 7])
                // A rollout that reaches a final phase leaves the active list.
                var done = records[1]
                done.phase = .succeeded
                try await store.commit([.rollout(done)])
                #expect(try await store.activeRollouts().map(\.rollout.id) == [4, 7])
            }
        }
    }

    @Test func rolloutIDsAreNeverReusedAndSurviveReopening() async throws {
        try await withTemporaryDirectory { root in
            let first = try await withStore(in: root) { store in
                let a = try await store.allocateRolloutID()
                let b = try await store.allocateRolloutID()
                #expect(b == a + 1)
                // A rollout stored under a higher id pushes allocation past it.
                try await store.commit([.rollout(try rolloutRecord(id: 40))])
                #expect(try await store.allocateRolloutID() == 41)
                return a
            }
            #expect(first == 1)
            try await withStore(in: root) { (store) async throws in
                #expect(try await store.allocateRolloutID() == 42)
            }
        }
    }

    @Test func committedStateSurvivesReopening() async throws {
        try await withTemporaryDirectory { root in
            let rollout = try rolloutRecord(id: 5)
            try await withStore(in: root) { store in
                try await store.commit([.rollout(rollout), .wave(waveRecord(rollout: 5, index: 0))])
            }
            try await withStore(in: root) { (store) async throws in
                #expect(try await store.activeRollouts().map(\.rollout) == [rollout])
            }
        }
    }

    @Test func refusedChangesFailOnlyTheirCallerAndLeaveNothingBehind() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                // A wave of a rollout that was never stored breaks the foreign key: nothing of that commit stays.
                let orphan: [StoreChange] = [
                    .audit(AuditRecord(at: 1, user: "x", uid: 1, action: "a", target: "t", outcome: "ok")),
                    .wave(waveRecord(rollout: 99, index: 0)),
                ]
                await #expect(throws: StoreError.self) { try await store.commit(orphan) }
                do {
                    try await store.commit(orphan)
                } catch let error as StoreError {
                    #expect(error.kind == .constraintBroken)
                }
                #expect(try await store.audit(since: nil, limit: 10).isEmpty)
                try await store.commit([.rollout(try rolloutRecord(id: 99)), .wave(waveRecord(rollout: 99, index: 0))])
                #expect(try await store.rollout(id: 99)?.waves.count == 1)
            }
        }
    }
}
