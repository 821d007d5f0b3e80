import Foundation
import GRDB
import ITVCore
import ITVEngine
import Testing

@testable import ITVStore

@Suite struct GroupCommitTests {
    @Test func concurrentCommitsAllLandInFewerTransactions() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                try await store.commit([.rollout(try rolloutRecord(id: 1))])
                let before = store.committedTransactions
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for i in 0..<200 {
                        group.addTask {
                            try await store.commit([
                                .hostRun(hostRunRecord(rollout: 1, host: "host-\(i)", wave: 0, phase: .running)),
                                .audit(
                                    AuditRecord(
                                        at: EpochMillis(i), user: "u", uid: 0, action: "a", target: "\(i)",
                                        outcome: "ok")),
                            ])
                        }
                    }
                    try await group.waitForAll()
                }
                let used = store.committedTransactions - before
                let snapshot = try #require(try await store.rollout(id: 1))
                #expect(Set(snapshot.hostRuns.map(\.host)) == Set((0..<200).map { "host-\($0)" }))
                #expect(try await store.audit(since: nil, limit: 1000).count == 200)
                #expect(used >= 1)
                #expect(used < 200, "group commit should batch concurrent callers; used \(used) transactions")
            }
        }
    }

    @Test(arguments: [1, 7])
    func aBatchHoldsAtMostTheConfiguredNumberOfCommits(_ most: Int) async throws {
        try await withTemporaryDirectory { root in
            let options = SQLiteRolloutStore.Options(maxCommitsPerTransaction: most)
            let store = try await SQLiteRolloutStore.open(stateDirectory: root + "/state", options: options)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<70 {
                    group.addTask {
                        try await store.commit([
                            .window(WindowRecord(name: "w\(i)", openUntil: nil, changedBy: "u", changedAt: 0))
                        ])
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await store.windows().count == 70)
            #expect(store.committedTransactions >= 70 / most)
            if most == 1 { #expect(store.committedTransactions == 70) }
            await store.close()
        }
    }

    /// In one batch or not, a caller whose changes are refused does not take the others down.
    @Test func aRefusedCallerDoesNotFailTheOthersInItsBatch() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                try await store.commit([.rollout(try rolloutRecord(id: 1))])
                let outcomes = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                    for i in 0..<60 {
                        group.addTask {
                            // Every tenth caller names a rollout that does not exist.
                            let rollout: Int64 = i % 10 == 5 ? 999 : 1
                            do {
                                try await store.commit([
                                    .audit(
                                        AuditRecord(
                                            at: 1, user: "u", uid: 0, action: "a", target: "\(i)",
                                            outcome: "ok")),
                                    .hostRun(hostRunRecord(rollout: rollout, host: "host-\(i)", wave: 0)),
                                ])
                                return (i, nil)
                            } catch let error as StoreError {
                                return (i, error.kind.rawValue)
                            }
                        }
                    }
                    var outcomes: [Int: String?] = [:]
                    for try await (i, kind) in group { outcomes[i] = kind }
                    return outcomes
                }
                let refused = outcomes.filter { $0.value != nil }
                #expect(Set(refused.keys) == [5, 15, 25, 35, 45, 55])
                #expect(Set(refused.values) == ["invalid"])
                let audited = try await store.audit(since: nil, limit: 100).map(\.target)
                #expect(Set(audited) == Set((0..<60).filter { $0 % 10 != 5 }.map { "\($0)" }))
                #expect(try #require(try await store.rollout(id: 1)).hostRuns.count == 54)
            }
        }
    }

    /// "Persist, then act": once `commit` returns, the changes are in the files on disk. The store is left
    /// open (as a killed itvd leaves it), its database and WAL files are copied as they are, and the copy
    /// opens with everything committed.
    @Test func committedChangesAreInTheFilesBeforeCommitReturns() async throws {
        try await withTemporaryDirectory { root in
            let live = root + "/live"
            let store = try await SQLiteRolloutStore.open(stateDirectory: live)
            let rollout = try rolloutRecord(id: 3)
            let runs = (0..<12).map { hostRunRecord(rollout: 3, host: "web-\($0)", wave: $0 / 4, phase: .running) }
            let approval = ApprovalRecord(
                rolloutID: 3, wave: 1, source: .operator, user: "bob", uid: 1001, comment: "ok", planHash: "sha256:abc",
                at: 77)
            try await store.commit([.rollout(rollout)] + runs.map(StoreChange.hostRun))
            try await store.commit([.approval(approval)])

            let wal = live + "/itvd.sqlite-wal"
            let walSize = try FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int ?? 0
            #expect(walSize > 0, "the commits should sit in the WAL, not yet checkpointed")
            let copy = root + "/copy"
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: false)
            // Not the -shm: it is only shared memory, rebuilt from the WAL after a crash.
            for name in ["itvd.sqlite", "itvd.sqlite-wal"] {
                try FileManager.default.copyItem(atPath: live + "/" + name, toPath: copy + "/" + name)
            }
            let recovered = try await SQLiteRolloutStore.open(stateDirectory: copy)
            let snapshot = try #require(try await recovered.rollout(id: 3))
            #expect(snapshot.rollout == rollout)
            #expect(snapshot.hostRuns == runs)
            #expect(snapshot.approvals == [approval])
            await recovered.close()
            await store.close()
        }
    }

    @Test func readsAndCommitsInterleaveFromManyTasks() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                try await store.commit([.rollout(try rolloutRecord(id: 1))])
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for i in 0..<50 {
                        group.addTask {
                            try await store.commit([.hostRun(hostRunRecord(rollout: 1, host: "h\(i)", wave: 0))])
                            // A caller reads its own write.
                            let runs = try #require(try await store.rollout(id: 1)).hostRuns
                            #expect(runs.contains { $0.host == "h\(i)" })
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }
}
