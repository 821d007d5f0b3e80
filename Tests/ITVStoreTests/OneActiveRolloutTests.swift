import Foundation
import GRDB
import ITVCore
import ITVEngine
import Testing

@testable import ITVStore

/// At most one active rollout per procedure, kept by the store itself (the second line behind the engine's
/// check): a change that would break it is refused as `conflict`, and changes nothing.
@Suite struct OneActiveRolloutTests {
    @Test func aSecondActiveRolloutOfAProcedureIsRefusedAsConflict() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                try await store.commit([.rollout(try rolloutRecord(id: 1))])
                let refused = await storeError {
                    try await store.commit([
                        .rollout(try rolloutRecord(id: 2, phase: .waitingApproval)),
                        .wave(waveRecord(rollout: 2, index: 0)),
                    ])
                }
                #expect(refused?.kind == .conflict)
                #expect(
                    refused?.message
                        == "rollout 2 of app cannot be active: rollout 1 (2.1.0, running) of app is active, and at "
                        + "most one rollout of a procedure may be")
                #expect(try await store.rollout(id: 2) == nil, "nothing of the refused change was written")
                #expect(try await store.activeRollouts().map(\.rollout.id) == [1])
                // Another procedure, and a finished rollout of the same one, are fine.
                var other = try rolloutRecord(id: 3)
                other.procedure = "db"
                try await store.commit([.rollout(other), .rollout(try rolloutRecord(id: 4, phase: .succeeded))])
                // A finished rollout may not become active again (a rollback) while another one is.
                let rollback = await storeError {
                    try await store.commit([.rollout(try rolloutRecord(id: 4, phase: .rollingBack))])
                }
                #expect(rollback?.kind == .conflict)
                #expect(try await store.rollout(id: 4)?.rollout.phase == .succeeded)
                // Once the active one ended, in the same transaction, before the other one starts: allowed.
                try await store.commit([
                    .rollout(try rolloutRecord(id: 1, phase: .aborted)),
                    .rollout(try rolloutRecord(id: 4, phase: .rollingBack)),
                ])
                #expect(try await store.activeRollouts().map(\.rollout.id) == [3, 4])
            }
        }
    }

    /// Group commit: callers in one transaction each have a savepoint; the refused one fails alone.
    @Test func concurrentStartsOfOneProcedureLeaveExactlyOneActive() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                let outcomes = await withTaskGroup(of: String.self) { group in
                    for id in Int64(1)...20 {
                        group.addTask {
                            do {
                                try await store.commit([.rollout(try rolloutRecord(id: id))])
                                return "ok"
                            } catch let error as StoreError {
                                return error.kind.rawValue
                            } catch {
                                return "other"
                            }
                        }
                    }
                    var all: [String] = []
                    for await outcome in group { all.append(outcome) }
                    return all
                }
                #expect(outcomes.filter { $0 == "ok" }.count == 1, "\(outcomes)")
                #expect(outcomes.filter { $0 == "conflict" }.count == 19, "\(outcomes)")
                let active = try await store.activeRollouts()
                #expect(active.count == 1)
            }
        }
    }

    /// A store of the first schema (no constraint) that holds two active rollouts of one procedure, as the
    /// race let happen: the upgrade aborts the older one (audited, with the reason) and keeps the newest.
    @Test func theUpgradeAbortsOlderDuplicatesAndKeepsTheNewest() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            // The first schema as shipped: only migration v1.
            let old = try await SQLiteRolloutStore.open(stateDirectory: dir, migrator: Self.firstSchema)
            try await old.commit([
                .rollout(try rolloutRecord(id: 1, phase: .waitingApproval)),
                .wave(waveRecord(rollout: 1, index: 0, phase: .done)),
                .wave(waveRecord(rollout: 1, index: 1, phase: .waitingApproval)),
                .rollout(try rolloutRecord(id: 2)), .rollout(try rolloutRecord(id: 3)),
                .rollout(try rolloutRecord(id: 4, phase: .succeeded)),
            ])
            await old.close()
            try await withStore(in: root) { store in
                #expect(try await store.activeRollouts().map(\.rollout.id) == [3])
                let first = try #require(try await store.rollout(id: 1))
                #expect(first.rollout.phase == .aborted)
                #expect(first.rollout.reason?.contains("a newer rollout of app is active too") == true)
                #expect(first.waves.map(\.phase) == [.done, .pending], "no wave left waiting for approval")
                #expect(try await store.rollout(id: 2)?.rollout.phase == .aborted)
                #expect(try await store.rollout(id: 4)?.rollout.phase == .succeeded)
                let audit = try await store.audit(since: nil, limit: 10)
                #expect(audit.map(\.target) == ["rollout 1", "rollout 2"])
                #expect(audit.allSatisfy { $0.action == "rollout.abort" && $0.user == "itvd" })
                #expect(audit.first?.comment?.contains("rollout 3 of app is active too") == true)
                let refused = await storeError { try await store.commit([.rollout(try rolloutRecord(id: 5))]) }
                #expect(refused?.kind == .conflict)
            }
        }
    }

    /// Migration v1 exactly as released (StoreSchema's own, up to v1).
    static var firstSchema: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in try StoreSchema.createV1(db) }
        return migrator
    }
}
