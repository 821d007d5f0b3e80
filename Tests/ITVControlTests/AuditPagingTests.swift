import Foundation
import ITVProtocol
import Testing

@Suite("itvctl audit pages")
struct AuditPagingTests {
    @Test("a page, the hint to the next one, --before, and --all")
    func paging() async throws {
        let service = FakeControlService()
        service.auditEntries.withLock { $0 = 25 }
        try await withServer(service) { _, socket in
            let first = try await itvctl(["audit", "--limit", "10"], socket: socket)
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stdout.split(separator: "\n").count == 11)
            #expect(first.stderr.contains("more: older entries exist; next page: itvctl audit --limit 10 --before 16"))
            let json = try await itvctl(["--json", "audit", "--limit", "10", "--before", "16"], socket: socket)
            let page = try ITVJSON.decode(AuditResponse.self, from: Data(json.stdout.utf8))
            #expect(page.entries.map { $0.id ?? 0 } == Array(6...15))
            #expect(page.nextBefore == 6)
            let last = try await itvctl(["--json", "audit", "--limit", "10", "--before", "6"], socket: socket)
            let lastPage = try ITVJSON.decode(AuditResponse.self, from: Data(last.stdout.utf8))
            #expect(lastPage.entries.map { $0.id ?? 0 } == Array(1...5) && lastPage.nextBefore == nil)
            #expect(last.stderr.isEmpty)
            let all = try await itvctl(["--json", "audit", "--all", "--limit", "10"], socket: socket)
            let everything = try ITVJSON.decode(AuditResponse.self, from: Data(all.stdout.utf8))
            #expect(everything.entries.map { $0.id ?? 0 } == Array(1...25))
            #expect(service.calls(.audit) == 3 + 3)
            let human = try await itvctl(["audit", "--all", "--limit", "10"], socket: socket)
            #expect(human.stdout.split(separator: "\n").count == 26)
            #expect(human.stderr.isEmpty)
            let bad = try await itvctl(["audit", "--limit", "10001"], socket: socket)
            #expect(bad.status == 64, "\(bad.stderr)")
        }
    }
}
