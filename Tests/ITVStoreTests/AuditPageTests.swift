import Foundation
import ITVCore
import ITVEngine
import Testing

@testable import ITVStore

@Suite("Audit pages: newest first chosen, bounded in entries and bytes, on a real SQLite file")
struct AuditPageTests {
    static func entry(_ i: Int, at: EpochMillis, comment: String? = nil) -> AuditRecord {
        AuditRecord(
            at: at, user: "u\(i)", uid: 1000, action: "rollout.pause", target: "rollout 1", comment: comment,
            outcome: "ok")
    }

    @Test("pages by limit walk the whole trail once, newest page first, each oldest first")
    func pagesByLimit() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                try await store.commit((0..<25).map { StoreChange.audit(Self.entry($0, at: 1_000 + Int64($0))) })
                var before: Int64?
                var pages: [[String]] = []
                repeat {
                    let page = try await store.auditPage(since: nil, before: before, limit: 10, maxBytes: 1 << 20)
                    pages.append(page.records.map(\.user))
                    before = page.more ? page.records.first?.id : nil
                    #expect(page.records.map { $0.id ?? 0 } == page.records.map { $0.id ?? 0 }.sorted())
                } while before != nil
                #expect(pages.map(\.count) == [10, 10, 5])
                #expect(pages[0].first == "u15" && pages[0].last == "u24")
                #expect(Array(pages.reversed().joined()) == (0..<25).map { "u\($0)" })
                // since: only entries at or after it, still newest first chosen.
                let recent = try await store.auditPage(since: 1_020, before: nil, limit: 3, maxBytes: 1 << 20)
                #expect(recent.records.map(\.user) == ["u22", "u23", "u24"])
                #expect(recent.more)
                let older = try await store.auditPage(
                    since: 1_020, before: recent.records.first?.id, limit: 3, maxBytes: 1 << 20)
                #expect(older.records.map(\.user) == ["u20", "u21"])
                #expect(!older.more)
            }
        }
    }

    @Test("pages by bytes: huge old comments come a few per page, and one entry larger than a page alone")
    func pagesByBytes() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                // What a store made before comments were bounded may hold: 1 MiB comments.
                let huge = String(repeating: "x", count: 1 << 20)
                var changes: [StoreChange] = (0..<10).map { .audit(Self.entry($0, at: 1_000, comment: huge)) }
                changes += (10..<20).map { .audit(Self.entry($0, at: 2_000, comment: "short")) }
                try await store.commit(changes)
                let first = try await store.auditPage(since: nil, before: nil, limit: 1_000, maxBytes: 2 << 20)
                // The ten short ones and one huge one: two huge ones are more than 2 MiB.
                #expect(first.records.count == 11, "\(first.records.map(\.user))")
                #expect(first.more)
                #expect(first.records.first?.comment == huge)
                var before = first.records.first?.id
                var count = first.records.count
                var pages = 1
                while let b = before {
                    let page = try await store.auditPage(since: nil, before: b, limit: 1_000, maxBytes: 2 << 20)
                    #expect(page.records.count >= 1)
                    #expect(page.records.count == 1)
                    count += page.records.count
                    pages += 1
                    before = page.more ? page.records.first?.id : nil
                }
                #expect(count == 20)
                #expect(pages == 1 + 9)  // nine huge ones left, one a page: two are more than 2 MiB
                // A page smaller than one entry still holds that entry.
                let tiny = try await store.auditPage(since: nil, before: nil, limit: 1_000, maxBytes: 10)
                #expect(tiny.records.count == 1 && tiny.more)
            }
        }
    }
}
