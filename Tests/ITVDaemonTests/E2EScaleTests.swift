import Foundation
import Testing

/// What `scripts/bench/gen_set.py --local` says about the set it wrote (`set.json`).
struct SeedSet: Decodable {
    var hosts: Int
    var procedures: Int
    var tenants: Int
    /// (host, procedure) pairs: the rows of `host list`.
    var pairs: Int
    var hostCounts: [String: Int]
}

/// A built itvd with the seed's configuration: 300 playbooks, 800 hosts in 20 tenants (`gen_set.py --local`:
/// local JSON feeds, hosts on loopback addresses where nothing listens), SSH key and empty known_hosts.
func withSeedScaleDaemon<T>(
    _ body: (E2EDaemon, SeedSet) async throws -> T
) async throws -> T {
    try await E2EDaemon.with(configuration: { itvd in
        let gen = try runProgram(
            "/usr/bin/python3", [repositoryRoot + "/scripts/bench/gen_set.py", itvd.dir, "300", "800", "--local"])
        guard gen.status == 0 else { throw E2EFailure(description: "gen_set.py: \(gen.stderr)") }
        let key = try runProgram("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", itvd.dir + "/id"])
        guard key.status == 0 else { throw E2EFailure(description: "ssh-keygen: \(key.stderr)") }
        FileManager.default.createFile(atPath: itvd.dir + "/known_hosts", contents: Data())
        let more = """
            state: state
            socket: run/itvd.sock
            ssh: {identity: id, known_hosts: known_hosts, connect_timeout: 5s}
            operators: [root]
            readers: [root]

            """
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: itvd.config))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(more.utf8))
    }) { itvd in
        let set = try e2eDecode(SeedSet.self, try String(contentsOfFile: itvd.dir + "/set.json", encoding: .utf8))
        return try await body(itvd, set)
    }
}

extension E2EDaemon {
    /// `GET target` with curl on the daemon's socket (an HTTP client independent of itvctl): the body.
    func curlGet(_ target: String) throws -> Data {
        let file = dir + "/curl-answer"
        let r = try runProgram(
            "/usr/bin/curl", ["-sS", "--unix-socket", socket, "-o", file, "-w", "%{http_code}", "http://itvd" + target])
        guard r.status == 0, r.stdout == "200" else {
            throw E2EFailure(description: "curl GET \(target): exit \(r.status), HTTP \(r.stdout): \(r.stderr)")
        }
        return try Data(contentsOf: URL(fileURLWithPath: file))
    }

    /// Many requests on the socket from the test itself, 8 at a time (thousands of itvctl processes would take
    /// minutes): each answer's HTTP status.
    func bulk(_ requests: [(method: String, target: String, json: String)]) throws -> [Int] {
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var statuses: [Int]
            var failures: [String] = []
            init(_ count: Int) { statuses = Array(repeating: 0, count: count) }
        }
        let results = Results(requests.count)
        let workers = 8
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for i in stride(from: worker, to: requests.count, by: workers) {
                let r = requests[i]
                do {
                    let status = try socketRequest(socket, r.method, r.target, json: r.json).status
                    results.lock.withLock { results.statuses[i] = status }
                } catch {
                    results.lock.withLock { results.failures.append("\(r.method) \(r.target): \(error)") }
                }
            }
        }
        guard results.failures.isEmpty else {
            throw E2EFailure(description: results.failures.prefix(5).joined(separator: "\n"))
        }
        return results.statuses
    }
}

/// One HTTP/1.1 request on a Unix socket, read by its Content-Length (the daemon keeps the connection open).
func socketRequest(_ path: String, _ method: String, _ target: String, json: String) throws -> (
    status: Int, body: [UInt8]
) {
    let fd: Int32
    do {
        fd = try connectUnixSocket(path)
    } catch {
        throw E2EFailure(description: "\(error)")
    }
    defer { close(fd) }
    let body = Array(json.utf8)
    let head =
        "\(method) \(target) HTTP/1.1\r\nHost: itvd\r\nContent-Type: application/json\r\n"
        + "Content-Length: \(body.count)\r\n\r\n"
    let request = Array(head.utf8) + body
    var sent = 0
    while sent < request.count {
        let n = request[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { throw E2EFailure(description: "write: errno \(errno)") }
        sent += n
    }
    var data: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    var header: (end: Int, status: Int, length: Int)?
    while header.map({ data.count < $0.end + $0.length }) ?? true {
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { throw E2EFailure(description: "the daemon closed the connection after \(data.count) bytes") }
        data.append(contentsOf: buffer[0..<n])
        if header == nil, let end = data.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound {
            let lines = String(decoding: data[..<end], as: UTF8.self).split(separator: "\r\n")
            let status = lines.first.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
            let length =
                lines.dropFirst().compactMap { line -> Int? in
                    let parts = line.split(separator: ":", maxSplits: 1)
                    guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                    return Int(parts[1].trimmingCharacters(in: .whitespaces))
                }.first ?? 0
            header = (end, status, length)
        }
    }
    guard let header else { throw E2EFailure(description: "no answer") }
    return (header.status, Array(data[header.end..<(header.end + header.length)]))
}

/// A JSON document as Foundation reads it, compared as a whole (`NSDictionary.isEqual`).
func jsonObject(_ data: Data, _ what: String) throws -> NSDictionary {
    guard let object = try? JSONSerialization.jsonObject(with: data) as? NSDictionary else {
        throw E2EFailure(description: "\(what): not a JSON object (\(data.count) bytes): \(data.prefix(300))")
    }
    return object
}

extension E2ETests {
    /// The seed's scale (300 procedures, 800 hosts, 20 tenants, an 800-host rollout in the store, releases,
    /// rollouts, more than a page of audit records): every list and show command, human and `--json`, gives
    /// the complete answer. The JSON itvctl prints is compared with what curl gets for the same route; the
    /// human tables have a row for every entry. `host list` is about 12 MB.
    @Suite("End to end: complete answers at the seed's scale", .serialized)
    struct E2EScaleTests {
        @Test("every list and show command, human and --json, answers in full at 300 procedures and 800 hosts")
        func everyAnswerIsComplete() async throws {
            try await withSeedScaleDaemon { itvd, set in
                #expect(set.hosts == 800 && set.procedures == 300 && set.tenants == 20)
                try populate(itvd, set)
                try checkAnswers(itvd, set)
            }
        }

        /// Three releases per procedure, a rollout per procedure (the odd ones aborted), the evening window
        /// opened (each remaining canary is not reached: nothing listens on the hosts, the rollouts halt), and more
        /// audit records than one page of the audit route holds, each with a comment of 1 KiB.
        private func populate(_ itvd: E2EDaemon, _ set: SeedSet) throws {
            let gen = repositoryRoot + "/scripts/bench/gen_set.py"
            for round in 1...3 {
                let published = try runProgram("/usr/bin/python3", [gen, "--publish", itvd.dir, String(round)])
                #expect(published.status == 0, "\(published.stderr)")
                try itvd.ok(["feed", "check"])
            }
            let procedures = (0..<set.procedures).map { String(format: "proc-%03d", $0) }
            let started = try itvd.bulk(
                procedures.map { ("POST", "/v1/rollouts", #"{"procedure": "\#($0)", "comment": "seed scale"}"#) })
            #expect(started.allSatisfy { $0 == 200 }, "rollout start: \(Set(started))")
            let list = try jsonObject(itvd.curlGet("/v1/rollouts"), "rollout list")
            let rollouts = (list["rollouts"] as? [NSDictionary] ?? []).compactMap { r -> (Int, String)? in
                guard let id = r["id"] as? Int, let procedure = r["procedure"] as? String else { return nil }
                return (id, procedure)
            }
            #expect(rollouts.count == set.procedures)
            let odd = rollouts.filter { Int($0.1.dropFirst(5))! % 2 == 1 }
            let aborted = try itvd.bulk(
                odd.map { ("POST", "/v1/rollouts/\($0.0)/abort", #"{"reason": "seed scale"}"#) })
            #expect(aborted.allSatisfy { $0 == 200 }, "rollout abort: \(Set(aborted))")
            try itvd.ok(["window", "open", "evening"])
            // Every canary is refused at once (deferred: more unreached hosts than max_unreached); wait until every
            // active rollout has halted on it.
            let deadline = Date().addingTimeInterval(300)
            var phases: [String] = []
            while Date() < deadline {
                let active = try jsonObject(itvd.curlGet("/v1/rollouts"), "rollout list")
                phases = (active["rollouts"] as? [NSDictionary] ?? []).compactMap { $0["phase"] as? String }
                if phases.count == set.procedures - odd.count, phases.allSatisfy({ $0 == "halted" }) { break }
                usleep(1_000_000)
            }
            #expect(
                phases.allSatisfy { $0 == "halted" },
                "rollouts not halted: \(Dictionary(grouping: phases) { $0 }.mapValues(\.count))")
            // A page of the audit route is 1,000 records; each refused or accepted pause is one more record.
            let comment = String(repeating: "Wartung laut Change 4711. ", count: 40)
            let halted = rollouts.first { $0.1 == "proc-002" }!.0
            let paused = try itvd.bulk(
                (0..<1_100).map { _ in ("POST", "/v1/rollouts/\(halted)/pause", #"{"reason": "\#(comment)"}"#) })
            #expect(paused.allSatisfy { $0 == 200 || $0 == 409 }, "rollout pause: \(Set(paused))")
        }

        private func checkAnswers(_ itvd: E2EDaemon, _ set: SeedSet) throws {
            let all = "proc-000"  // runs on every host; its rollout is the 800-host one
            #expect(set.hostCounts[all] == set.hosts)
            let list = try jsonObject(itvd.curlGet("/v1/rollouts"), "rollout list")
            let big = (list["rollouts"] as? [NSDictionary] ?? []).first { $0["procedure"] as? String == all }
            let rid = try #require(big?["id"] as? Int)

            // Every command: itvctl --json prints what curl gets (`now` of status aside), and the human form
            // has a row per entry. A command that fails is recorded, and the others are still checked.
            var sizes: [String: Int] = [:]
            func same(_ arguments: [String], _ target: String, ignoring: [String] = []) throws -> NSDictionary? {
                let printed = try itvd.ctl(["--json"] + arguments)
                let name = arguments.joined(separator: " ")
                guard printed.status == 0 else {
                    Issue.record("itvctl --json \(name) exited \(printed.status): \(printed.stderr)")
                    return nil
                }
                sizes[name] = printed.stdout.utf8.count
                let ctl = try jsonObject(Data(printed.stdout.utf8), name).mutableCopy() as? NSMutableDictionary
                let api = try jsonObject(itvd.curlGet(target), "GET \(target)").mutableCopy() as? NSMutableDictionary
                ctl?.removeObjects(forKeys: ignoring)
                api?.removeObjects(forKeys: ignoring)
                #expect(ctl != nil && ctl == api, "itvctl --json \(name) differs from GET \(target)")
                return api
            }
            func human(_ arguments: [String]) throws -> [Substring] {
                let r = try itvd.ctl(arguments)
                #expect(r.status == 0 && r.stderr.isEmpty, "itvctl \(arguments): exit \(r.status) \(r.stderr)")
                return r.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            }
            func entries(_ document: NSDictionary, _ key: String) -> [NSDictionary] {
                document[key] as? [NSDictionary] ?? []
            }

            if let status = try same(["status"], "/v1/status", ignoring: ["now"]) {
                #expect(status["procedures"] as? Int == set.procedures && status["hosts"] as? Int == set.hosts)
                #expect(status["tenants"] as? Int == set.tenants)
                let attention = entries(status, "attention").count
                #expect(attention == set.procedures / 2, "every active rollout halted and needs an operator")
                let rows = try human(["status"]).filter { $0.first?.isNumber == true }
                #expect(rows.count == attention, "status: a row per rollout that needs attention")
            }

            if let procedures = try same(["procedure", "list"], "/v1/procedures") {
                #expect(entries(procedures, "procedures").count == set.procedures)
                #expect(try human(["procedure", "list"]).count == 1 + set.procedures)
            }
            if let procedure = try same(["procedure", "show", all], "/v1/procedures/\(all)") {
                #expect(entries(procedure, "hosts").count == set.hosts)
                #expect(try human(["procedure", "show", all]).filter { $0.hasPrefix("h0") }.count == set.hosts)
            }

            if let releases = try same(["release", "list"], "/v1/releases") {
                #expect(entries(releases, "releases").count == 3 * set.procedures)
                #expect(try human(["release", "list"]).count == 1 + 3 * set.procedures)
            }

            if let hosts = try same(["host", "list"], "/v1/hosts") {
                let hostEntries = entries(hosts, "hosts")
                #expect(hostEntries.count == set.hosts)
                #expect(hostEntries.map { ($0["procedures"] as? [Any] ?? []).count }.reduce(0, +) == set.pairs)
                let rows = try human(["host", "list"]).dropFirst().map { $0.split(whereSeparator: \.isWhitespace) }
                #expect(rows.count == set.pairs, "host list: a row per host and procedure")
                #expect(Set(rows.map { "\($0[0]) \($0[2])" }).count == set.pairs, "host list: every pair once")
            }
            if let oneProcedure = try same(["host", "list", "--procedure", all], "/v1/hosts?procedure=\(all)") {
                #expect(entries(oneProcedure, "hosts").count == set.hosts)
                #expect(try human(["host", "list", "--procedure", all]).count == 1 + set.hosts)
            }

            if let active = try same(["rollout", "list"], "/v1/rollouts") {
                #expect(entries(active, "rollouts").count == set.procedures / 2)
                #expect(try human(["rollout", "list"]).count == 1 + set.procedures / 2)
            }
            if let everyRollout = try same(["rollout", "list", "--all"], "/v1/rollouts?all=true") {
                #expect(try human(["rollout", "list", "--all"]).count == 1 + entries(everyRollout, "rollouts").count)
                #expect(entries(everyRollout, "rollouts").count == set.procedures)
                #expect(everyRollout["next_before"] == nil, "one page holds all 300")
            }
            // Pages: a smaller limit says where the next page starts, and the pages together are the whole list.
            var paged: [Int] = []
            var before: Int? = nil
            for _ in 0..<10 {
                let target = "/v1/rollouts?all=true&limit=120" + (before.map { "&before=\($0)" } ?? "")
                let arguments =
                    ["rollout", "list", "--all", "--limit", "120"] + (before.map { ["--before", "\($0)"] } ?? [])
                guard let page = try same(arguments, target) else { break }
                paged += entries(page, "rollouts").compactMap { $0["id"] as? Int }
                before = page["next_before"] as? Int
                let text = try itvd.ctl(arguments)
                #expect(text.stderr.contains("older rollouts exist") == (before != nil), "\(text.stderr)")
                if before == nil { break }
            }
            #expect(paged.count == set.procedures && Set(paged).count == set.procedures, "pages of 120: \(paged.count)")
            #expect(paged == paged.sorted(by: >), "newest first across pages")

            if let show = try same(["rollout", "show", String(rid)], "/v1/rollouts/\(rid)") {
                let runs = entries(show, "host_runs")
                #expect(runs.count == set.hosts)
                #expect(Set(runs.compactMap { $0["host"] as? String }).count == set.hosts)
                // Nothing listens on the hosts: the canary was not reached (deferred, not failed), and one host of
                // one is more than max_unreached (50%), so the rollout halted.
                #expect(runs.filter { $0["phase"] as? String == "deferred" }.count == 1, "the canary was not reached")
                let planned = entries(show, "waves").map { ($0["hosts"] as? [Any] ?? []).count }
                #expect(planned.reduce(0, +) == set.hosts)
                let rows = try human(["rollout", "show", String(rid)]).filter { $0.hasPrefix("h0") }
                #expect(Set(rows.map { $0.prefix(5) }).count == set.hosts, "rollout show: a row per host")
            }

            if let plan = try same(["rollout", "plan", all], "/v1/procedures/\(all)/plan") {
                #expect(plan["host_count"] as? Int == set.hosts)
                let text = try human(["rollout", "plan", all]).joined(separator: " ")
                let shown = Set(text.split(separator: " ").filter { $0.hasPrefix("h0") && $0.count == 5 })
                #expect(shown.count == set.hosts, "rollout plan: every host shown")
            }

            if let audit = try same(["audit"], "/v1/audit") {
                // The whole trail, page by page with curl (each page oldest first, the newest page first).
                var trail: [NSDictionary] = []
                var target = "/v1/audit?limit=10000"
                while true {
                    let page = try jsonObject(itvd.curlGet(target), "GET \(target)")
                    trail = entries(page, "entries") + trail
                    guard let next = page["next_before"] as? Int else { break }
                    target = "/v1/audit?limit=10000&before=\(next)"
                }
                #expect(trail.count > 1_000, "more records than one page")
                let page = entries(audit, "entries")
                #expect(page.count == 1_000, "itvctl audit: a page of the newest records")
                #expect(page.map { $0["id"] as? Int } == trail.suffix(page.count).map { $0["id"] as? Int })
                let text = try itvd.ctl(["audit"])
                #expect(text.status == 0 && text.stderr.contains("older entries exist"), "\(text.stderr)")
                #expect(text.stdout.split(separator: "\n").count == 1 + page.count)
                let everything = try itvd.ok(["--json", "audit", "--all"])
                let every = entries(try jsonObject(Data(everything.utf8), "itvctl --json audit --all"), "entries")
                #expect(every.map { $0["id"] as? Int } == trail.map { $0["id"] as? Int }, "audit --all: every record")
                #expect(try human(["audit", "--all"]).count == 1 + trail.count)
            }

            if let windows = try same(["window", "list"], "/v1/windows") {
                #expect(entries(windows, "windows").count == 1)
                #expect(try human(["window", "list"]).count == 2)
            }

            // A 10 MB answer arrives whole: host list is about 12 MB.
            #expect(sizes["host list"] ?? 0 > 10_000_000, "answer sizes: \(sizes)")
        }
    }
}
