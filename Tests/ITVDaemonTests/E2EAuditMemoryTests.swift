import Foundation
import ITVCore
import ITVEngine
import ITVStore
import Testing

extension E2ETests {
    /// Comments are bounded and the audit trail is answered in pages, so that a read-only user's largest
    /// requests, many at once, keep the built itvd's memory bounded.
    @Suite("End to end: bounded comments and audit pages keep itvd's memory bounded", .serialized)
    struct E2EAuditMemoryTests {
        /// `VmRSS` and `VmHWM` (peak) of a process, in bytes.
        static func memory(_ pid: Int32) -> (rss: Int, peak: Int) {
            let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            func field(_ name: String) -> Int {
                guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else {
                    return 0
                }
                return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
            }
            return (field("VmRSS"), field("VmHWM"))
        }

        static func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }

        /// Runs `body` `count` times at once, each on a thread of its own (it blocks); the results.
        static func concurrently<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T)
            async throws -> [T]
        {
            try await withThrowingTaskGroup(of: T.self) { group in
                for i in 0..<count {
                    group.addTask {
                        try await withCheckedThrowingContinuation { continuation in
                            Thread.detachNewThread { continuation.resume(with: Result { try body(i) }) }
                        }
                    }
                }
                return try await group.reduce(into: [T]()) { $0.append($1) }
            }
        }

        @Test("large comments are refused; 20 concurrent audits of 10,000 records by a reader keep RSS bounded")
        func boundedMemory() async throws {
            let app = "fake-audit"
            let playbook = try fakeAppPlaybook(id: app, waves: ["{name: all, size: rest, approval: auto}"])
            try await E2EOperators.with { _ in
                let reader = E2EOperators.users[0]
                try await E2EFleet.with(1, base: "127.0.68") { fleet in
                    try await E2EDaemon.with(fleet: fleet, playbooks: [app: playbook], operators: [E2EOperators.group])
                    {
                        itvd in
                        try await run(itvd, reader: reader)
                    }
                }
            }
        }

        private func run(_ itvd: E2EDaemon, reader: String) async throws {
            // Comments beyond 4 KiB are refused on every try, and change nothing.
            let before = try e2eDecode(AuditLines.self, try itvd.ok(["--json", "audit"])).entries.count
            let long = String(repeating: "r", count: 100_000)
            for _ in 0..<20 {
                let refused = try itvd.ctl(["rollout", "pause", "1", "--reason", long])
                #expect(refused.status == 1, "\(refused.stderr)")
                #expect(refused.stderr.contains("invalid_request: reason is 100000 bytes long"), "\(refused.stderr)")
            }
            let megabyte = itvd.dir + "/megabyte.json"
            try Data(("{\"comment\":\"" + String(repeating: "c", count: 1_000_000) + "\"}").utf8)
                .write(to: URL(fileURLWithPath: megabyte))
            for _ in 0..<20 {
                let curl = try runProgram(
                    "/usr/bin/curl",
                    [
                        "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", itvd.socket, "-H",
                        "Content-Type: application/json", "--data-binary", "@" + megabyte,
                        "http://itvd/v1/windows/evening/open",
                    ])
                #expect(curl.stdout == "400", "\(curl.stdout) \(curl.stderr)")
            }
            let after = try e2eDecode(AuditLines.self, try itvd.ok(["--json", "audit"])).entries.count
            #expect(after == before, "refused requests left audit entries")

            // The trail of a long-lived daemon: 10,000 entries with 4 KiB comments (the most a request may
            // leave now), and 40 with 1 MiB comments (what a store made before comments were bounded holds).
            itvd.stop()
            let store = try await SQLiteRolloutStore.open(stateDirectory: itvd.dir + "/state")
            let comment = String(repeating: "k", count: 4_096)
            let huge = String(repeating: "h", count: 1 << 20)
            for batch in 0..<10 {
                try await store.commit(
                    (0..<1_000).map { i in
                        .audit(
                            AuditRecord(
                                at: 1_790_000_000_000 + Int64(batch * 1_000 + i), user: "alice", uid: 1001,
                                action: "rollout.pause", target: "rollout 1", comment: comment, outcome: "ok"))
                    })
            }
            try await store.commit(
                (0..<40).map { i in
                    .audit(
                        AuditRecord(
                            at: 1_790_000_100_000 + Int64(i), user: "mallory", uid: 1002, action: "rollout.abort",
                            target: "rollout 1", comment: huge, outcome: "ok"))
                })
            await store.close()
            try await itvd.start()
            // The operators' group may only read now.
            try E2EAuthorizationTests.setGroups(itvd, operators: ["root"], readers: [E2EOperators.group])
            try itvd.ok(["reload"])
            let refusedChange = try itvd.ctl(["window", "open", "evening"], as: reader)
            #expect(refusedChange.status == 77)

            // One page as the reader sees it: bounded by bytes, with the way to the next one.
            let first = try itvd.ctl(["--json", "audit"], as: reader)
            #expect(first.status == 0, "\(first.stderr)")
            let page = try e2eDecode(AuditPageLines.self, first.stdout)
            #expect(page.entries.count >= 1 && page.entries.count < 1_000, "\(page.entries.count) entries")
            #expect(page.nextBefore != nil)
            #expect(first.stdout.utf8.count < 4 << 20, "\(first.stdout.utf8.count) bytes")
            let human = try itvd.ctl(["audit"], as: reader)
            #expect(
                human.stderr.contains("more: older entries exist; next page: itvctl audit --before"), "\(human.stderr)")

            guard let pid = itvd.pid else { throw E2EFailure(description: "itvd is not running") }
            let idle = Self.memory(pid)
            // 20 of the largest requests a reader may make, at once, three times over: the newest page (with
            // megabyte comments) and full pages of 4 KiB comments further back. One curl per thread
            // (not `sh -c '... & wait'`: a shell started by the test inherits a signal mask that blocks
            // SIGCHLD, and its `wait` never returns).
            var sizes: [String] = []
            for _ in 0..<3 {
                let lines = try await Self.concurrently(20) { i in
                    try runProgram(
                        "/usr/sbin/runuser",
                        [
                            "-u", reader, "--", "/usr/bin/curl", "-s", "--max-time", "120", "-o", "/dev/null", "-w",
                            "%{http_code} %{size_download}", "--unix-socket", itvd.socket,
                            "http://itvd/v1/audit?limit=10000" + (i % 2 == 0 ? "" : "&before=5000"),
                        ], timeout: 150
                    ).stdout
                }
                #expect(lines.count == 20)
                #expect(lines.contains { (Int($0.split(separator: " ").last ?? "") ?? 0) > 1_500_000 }, "\(lines)")
                for line in lines {
                    let fields = line.split(separator: " ")
                    #expect(fields.first == "200", "\(line)")
                    #expect((Int(fields.last ?? "") ?? .max) < 4 << 20, "\(line)")
                }
                sizes += lines
            }
            let busy = Self.memory(pid)
            print(
                "E2E audit memory: itvd RSS \(Self.megabytes(idle.rss)) before, peak \(Self.megabytes(busy.peak)), "
                    + "\(Self.megabytes(busy.rss)) after 3 x 20 concurrent audits of 10,040 records by a reader "
                    + "(answers: \(Set(sizes.map { $0.split(separator: " ").last ?? "" }).sorted().joined(separator: ", ")) bytes)"
            )
            #expect(busy.peak < 300_000_000, "itvd peaked at \(Self.megabytes(busy.peak))")

            // Every entry, page by page.
            let all = try itvd.ctl(["--json", "audit", "--all"], as: reader)
            #expect(all.status == 0, "\(all.stderr)")
            let entries = try e2eDecode(AuditLines.self, all.stdout).entries
            let ids = entries.compactMap(\.id)
            #expect(ids.count == entries.count && ids == ids.sorted() && Set(ids).count == ids.count)
            #expect(entries.filter { $0.user == "alice" }.count == 10_000)
            #expect(entries.filter { $0.user == "mallory" && $0.comment?.utf8.count == 1 << 20 }.count == 40)
        }
    }
}

/// `itvctl --json audit` of one page.
struct AuditPageLines: Decodable {
    var entries: [AuditLines.Entry]
    var nextBefore: Int64?
}
