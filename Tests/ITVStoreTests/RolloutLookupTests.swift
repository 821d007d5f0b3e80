import Foundation
import GRDB
import ITVCore
import ITVEngine
import Testing

@testable import ITVStore

/// `hasRollout(procedure:version:)`: what auto_plan asks before it plans a version. One indexed lookup, whatever
/// the number of rollouts (it replaced a scan of the newest 10,000).
@Suite struct RolloutLookupTests {
    /// 300 procedures with 40 finished rollouts each (12,000 rollouts): every stored version is found, the
    /// oldest as well as the newest, and a version never planned is not.
    @Test func findsEveryVersionAtFieldSize() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                var id: Int64 = 0
                let recipe = try recipe()
                for version in 0..<40 {
                    let changes = (0..<300).map { p -> StoreChange in
                        id += 1
                        return .rollout(
                            RolloutRecord(
                                id: id, procedure: "p\(p)", version: "1.\(version)", phase: .succeeded,
                                planHash: "h", recipe: recipe, createdAt: id, createdBy: "itvd", updatedAt: id))
                    }
                    try await store.commit(changes)
                }
                #expect(try await store.rollouts(includeFinished: true, limit: 10_000).last?.id == 2_001)
                #expect(try await store.hasRollout(procedure: "p0", version: "1.0"), "older than the newest 10,000")
                #expect(try await store.hasRollout(procedure: "p299", version: "1.39"))
                #expect(try await !store.hasRollout(procedure: "p0", version: "1.40"))
                #expect(try await !store.hasRollout(procedure: "p300", version: "1.0"))
                let started = ContinuousClock.now
                for p in 0..<300 { _ = try await store.hasRollout(procedure: "p\(p)", version: "2.0") }
                let elapsed = ContinuousClock.now - started
                #expect(elapsed < .seconds(30), "300 lookups took \(elapsed)")
                print("hasRollout: 300 lookups among 12,000 rollouts in \(elapsed)")
            }
        }
    }

    /// The lookup uses the index of the migration `v_rollouts_by_procedure_version`, not a scan of the table.
    @Test func theLookupUsesTheIndex() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                let plan = try await store.read("explain") { db in
                    try Row.fetchAll(
                        db, sql: "EXPLAIN QUERY PLAN " + StoreReads.hasRolloutSQL, arguments: ["p", "1"]
                    ).map { $0["detail"] as String? ?? "" }.joined(separator: "\n")
                }
                #expect(plan.contains(StoreSchema.rolloutsByProcedureVersionIndex), "\(plan)")
            }
        }
    }
}
