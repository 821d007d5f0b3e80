import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built itvd polling feeds (file:// documents under the 4 MiB body cap) that list 10^5 to 10^6
/// candidate versions, in every kind that can list many. Each is refused as `too_many_candidates`, and the
/// daemon's peak memory stays within an order of magnitude of what it was (it grew by ~500 MB on ~240,000
/// candidates before candidates were bounded).
@Suite("itvd under hostile feeds: bounded candidates, bounded memory", .serialized)
struct HostileFeedTests {
    struct Document {
        var id: String
        var kind: String
        var feedOptions: String
        var candidates: Int
        var body: String
    }

    static func documents() -> [Document] {
        var list: [Document] = []
        func make(_ id: String, _ kind: String, _ options: String, _ count: Int, _ body: (Int) -> String) {
            var text = ""
            text.reserveCapacity(count * 8)
            text += body(-1)
            for i in 0..<count { text += body(i) }
            text += body(-2)
            list.append(Document(id: id, kind: kind, feedOptions: options, candidates: count, body: text))
        }
        let digits = "match: '(?<version>[0-9][0-9.]*)'"
        make("text-1e5", "text", digits, 100_000) { i in i < 0 ? "" : "1.\(i)\n" }
        make("text-1e6", "text", digits, 1_000_000) { i in i < 0 ? "" : "\(i % 1_000) " }
        make("json-1e5", "json", "select: 'v[*]'", 100_000) { i in
            i == -1 ? "{\"v\": [" : i == -2 ? "\"0\"]}" : "\"1.\(i)\","
        }
        make("json-1e6", "json", "select: 'v[*]'", 1_000_000) { i in
            i == -1 ? "{\"v\": [" : i == -2 ? "0]}" : "\(i % 1_000),"
        }
        make("html-2e5", "html", digits, 200_000) { i in
            i == -1 ? "<html><body><ul>\n" : i == -2 ? "</ul></body></html>\n" : "<li>1.\(i)</li>\n"
        }
        make("atom-1e5", "atom", "select: title", 100_000) { i in
            i == -1
                ? "<?xml version=\"1.0\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n"
                : i == -2 ? "</feed>\n" : "<entry><title>1.\(i)</title></entry>\n"
        }
        make("rss-1e5", "rss", "select: title", 100_000) { i in
            i == -1
                ? "<rss version=\"2.0\"><channel>\n"
                : i == -2 ? "</channel></rss>\n" : "<item><title>1.\(i)</title></item>\n"
        }
        return list
    }

    /// VmHWM (peak resident set) and VmRSS of a process, in KiB.
    static func memory(_ pid: pid_t) -> (peak: Int, now: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        guard let peak = field("VmHWM"), let now = field("VmRSS") else { return nil }
        return (peak, now)
    }

    @Test func everyKindIsRefusedBeyondTheCandidateBoundAndMemoryStaysBounded() async throws {
        let dir = try DaemonDirectory()
        try dir.writeOfflineInventory()
        let documents = Self.documents()
        for d in documents {
            let path = dir.root + "/feeds/\(d.id)"
            try FileManager.default.createDirectory(
                atPath: dir.root + "/feeds", withIntermediateDirectories: true)
            try Data(d.body.utf8).write(to: URL(fileURLWithPath: path))
            #expect(d.body.utf8.count < 4 << 20, "\(d.id) is \(d.body.utf8.count) bytes: over the body cap")
            try dir.writePlaybook(
                d.id,
                """
                apiVersion: itv/v1
                id: \(d.id)
                name: Hostile \(d.id)
                vendor: Nobody
                targets: [fleet]
                feed:
                  kind: \(d.kind)
                  url: file://\(path)
                  \(d.feedOptions)
                  every: 1h
                steps: {detect: d, install: i, verify: v}
                rollout:
                  waves: [{name: all, size: rest, approval: operator}]

                """)
        }
        let notify = try NotifySocket()
        let process = try dir.startDaemon(environment: ["NOTIFY_SOCKET": notify.path])
        try await withDaemon(process) { daemon in
            let ready = await notify.waitFor(from: daemon.pid, timeout: .seconds(120)) { $0.hasPrefix("READY=1") }
            try #require(ready != nil, "\(daemon.stderr)")
            // Let the first polls at start (jittered) happen or not; the checks below poll every feed again.
            let before = try #require(Self.memory(daemon.pid))
            var results: [String: [String: Any]] = [:]
            for d in documents {
                // Exit 1 when a feed failed: the JSON answer is on stdout either way.
                let run = try await runTool(
                    dir.itvctl, ["--socket", dir.socket, "--json", "feed", "check", d.id], timeout: .seconds(300))
                let answer = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
                let list = answer?["results"] as? [[String: Any]] ?? []
                results[d.id] = list.first
            }
            let after = try #require(Self.memory(daemon.pid))
            for d in documents {
                let error = results[d.id]?["error"] as? [String: Any]
                #expect(results[d.id]?["ok"] as? Bool == false, "\(d.id): \(results[d.id] ?? [:])")
                // 10^6 JSON values are refused by their count before they are read, whatever `select` takes.
                let (kind, says) =
                    d.id == "json-1e6"
                    ? ("too_many_elements", "more than 200000 JSON values")
                    : ("too_many_candidates", "more than 10000 candidate versions")
                #expect(error?["kind"] as? String == kind, "\(d.id): \(results[d.id] ?? [:])")
                #expect((error?["message"] as? String)?.contains(says) == true, "\(d.id): \(results[d.id] ?? [:])")
            }
            // Measured: +32 MB with the bounds, +196 MB without (debug builds, these seven documents).
            let grown = (after.peak - before.peak) / 1_024
            print("hostile feeds: itvd peak RSS \(before.peak / 1_024) MB before, \(after.peak / 1_024) MB after")
            #expect(grown < 100, "itvd's peak resident memory grew by \(grown) MB on hostile feeds")
            #expect(daemon.stderr.contains("ITV_EVENT=feed.broken"), "\(daemon.logTailForTests)")
        }
    }
}

extension ServerProcess {
    var logTailForTests: String { String(stderr.suffix(3_000)) }
}
