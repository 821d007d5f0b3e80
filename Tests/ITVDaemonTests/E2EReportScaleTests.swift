import Foundation
import Testing

extension E2ETests {
    /// `itvctl report` at the seed's scale (300 procedures, 800 hosts, 20 tenants), then with every host in one
    /// tenant (800 hosts x 300 procedures in one report): complete, and bounded in memory on both sides.
    @Suite("End to end: the report at the seed's scale", .serialized)
    struct E2EReportScaleTests {
        /// Resident and peak resident set of a process, in MB (`/proc/PID/status`).
        static func memory(_ pid: String) -> (rss: Double, peak: Double) {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            func kb(_ key: String) -> Double {
                let line = status.split(separator: "\n").first { $0.hasPrefix(key + ":") } ?? ""
                return Double(line.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "0").map { $0 / 1024 }
                    ?? 0
            }
            return (kb("VmRSS"), kb("VmHWM"))
        }

        /// Runs itvctl under /usr/bin/time: its stdout, seconds and max RSS in MB.
        static func measured(_ itvd: E2EDaemon, _ arguments: [String]) throws -> (
            out: String, seconds: Double, mb: Double
        ) {
            let start = Date()
            let r = try runProgram(
                "/usr/bin/time", ["-f", "maxrss %M", itvd.itvctl, "--socket", itvd.socket] + arguments)
            let seconds = Date().timeIntervalSince(start)
            guard r.status == 0 else {
                throw E2EFailure(description: "itvctl \(arguments): exit \(r.status): \(r.stderr.suffix(2000))")
            }
            let line = r.stderr.split(separator: "\n").last { $0.hasPrefix("maxrss ") } ?? "maxrss 0"
            return (r.stdout, seconds, (Double(line.dropFirst(7)) ?? 0) / 1024)
        }

        @Test("a tenant's report at seed scale, and one tenant of 800 hosts x 300 procedures, in full and bounded")
        func reportAtScale() async throws {
            try await withSeedScaleDaemon { itvd, set in
                #expect(set.hosts == 800 && set.procedures == 300 && set.tenants == 20)
                let gen = repositoryRoot + "/scripts/bench/gen_set.py"
                for round in 1...2 {
                    let published = try runProgram("/usr/bin/python3", [gen, "--publish", itvd.dir, String(round)])
                    #expect(published.status == 0, "\(published.stderr)")
                }
                try itvd.ok(["feed", "check"])
                let started = try itvd.bulk(
                    (0..<20).map { ("POST", "/v1/rollouts", #"{"procedure": "proc-\#(String(format: "%03d", $0))"}"#) })
                #expect(started.allSatisfy { $0 == 200 }, "rollout start: \(Set(started))")
                let pid = try String(contentsOfFile: itvd.dir + "/state/itvd.pid", encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)

                // One tenant of the seed: as many rows as its hosts have procedures in `host list`.
                let hosts = try jsonObject(itvd.curlGet("/v1/hosts?tenant=t03"), "host list")
                let pairs = (hosts["hosts"] as? [NSDictionary] ?? []).reduce(0) {
                    $0 + (($1["procedures"] as? [Any])?.count ?? 0)
                }
                let small = try Self.measured(itvd, ["report", "--tenant", "t03", "--format", "json"])
                let smallDoc = try jsonObject(Data(small.out.utf8), "report t03")
                #expect((smallDoc["rows"] as? [Any])?.count == pairs, "t03: \(pairs) pairs")
                print("report t03 (\(pairs) rows): \(small.seconds) s, itvctl max RSS \(small.mb) MB")

                // Every host in one tenant: 800 hosts x their procedures in one report.
                let inventory = itvd.dir + "/inventory.yaml"
                let text = try String(contentsOfFile: inventory, encoding: .utf8)
                let one = try Regex("tenant: t[0-9][0-9]")
                try Data(text.replacing(one, with: "tenant: t00").utf8).write(to: URL(fileURLWithPath: inventory))
                try itvd.ok(["reload"])
                let before = Self.memory(pid)
                let big = try Self.measured(itvd, ["report", "--tenant", "t00", "--format", "csv"])
                let after = Self.memory(pid)
                let records = big.out.split(separator: "\r\n").count - 1
                #expect(records >= set.pairs, "\(records) csv records for \(set.pairs) pairs")
                let json = try Self.measured(itvd, ["report", "--tenant", "t00", "--format", "json"])
                let doc = try jsonObject(Data(json.out.utf8), "report t00")
                #expect((doc["rows"] as? [Any])?.count == set.pairs)
                print(
                    "report t00 (\(set.pairs) rows, csv \(big.out.utf8.count / 1_000_000) MB, json "
                        + "\(json.out.utf8.count / 1_000_000) MB): csv \(big.seconds) s, itvctl max RSS \(big.mb) MB; "
                        + "json \(json.seconds) s, itvctl max RSS \(json.mb) MB; itvd RSS \(before.rss) -> "
                        + "\(after.rss) MB, peak \(before.peak) -> \(after.peak) MB")
                // Bounded: neither program held the whole report (tens of MB) at once.
                #expect(big.mb < 150, "itvctl max RSS \(big.mb) MB")
                #expect(after.rss - before.rss < 150, "itvd RSS \(before.rss) -> \(after.rss) MB")
            }
        }
    }
}
