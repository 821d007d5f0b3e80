import Foundation
import ITVCore
import ITVEngine
import ITVStore
import ITVTestSupport
import Testing

/// `itvctl artifact list` against the built itvd over its socket: the vendor is the feed tests' HTTPS server
/// (`scripts/feeds/test-server.py`, own CA given to itvd as `ITVD_CA_BUNDLE`) publishing a json feed, two
/// installers and a `SHA256SUMS`; itvd downloads and verifies when a release is planned. The inventory is
/// offline (no rollout runs). Then the store holds the records of 300 procedures, as a field-sized cache would.
@Suite("End to end: itvctl artifact list", .serialized)
struct E2EArtifactListTests {
    static func installer(_ size: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<size).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    static func playbook(_ server: TestServer) -> String {
        """
        apiVersion: itv/v1
        id: tool
        name: Tool
        vendor: Example
        targets: [fleet]
        feed:
          kind: json
          url: \(server.https("/files/feed.json"))
          select: 'releases[*].version'
          every: 1h
        artifact:
          url: '\(server.https("/files/tool-{{version}}.bin"))'
          checksums: {url: '\(server.https("/files/SHA256SUMS"))', format: sha256sum}
        steps: {detect: d, install: 'i {{artifact}}', verify: v}
        rollout:
          waves: [{name: all, size: rest, approval: operator}]

        """
    }

    /// Starts itvd on `dir`, waits for READY=1, runs `body`, stops it.
    static func running(_ dir: DaemonDirectory, ca: String, _ body: () async throws -> Void) async throws {
        let notify = try NotifySocket()
        let process = try dir.startDaemon(environment: [
            "NOTIFY_SOCKET": notify.path, "ITVD_CA_BUNDLE": ca, "ITVD_NOTIFY_BACKOFF_BASE": "0.2",
            "ITVD_NOTIFY_BACKOFF_MAX": "1",
        ])
        try await withDaemon(process) { daemon in
            let ready = await notify.waitFor(from: daemon.pid, timeout: .seconds(120)) { $0.hasPrefix("READY=1") }
            try #require(ready != nil, "itvd did not start: \(daemon.stderr)")
            try await body()
        }
    }

    @Test("a downloaded artifact, a rejected one, and 300 procedures' records, listed and bounded")
    func downloadedRejectedAndAtFieldSize() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let files = server.directory.path + "/files/"
        try FileManager.default.createDirectory(atPath: files, withIntermediateDirectories: true)
        let good = Self.installer(300_000, seed: 21)
        let sha = ITVCore.SHA256.hexDigest(good)
        // 2.1's installer as the vendor made it (in SHA256SUMS), and what the server serves instead.
        let fresh = Self.installer(300_000, seed: 22)
        let freshSHA = ITVCore.SHA256.hexDigest(fresh)
        var tampered = fresh
        tampered[150_000] ^= 0x01
        let tamperedSHA = ITVCore.SHA256.hexDigest(tampered)
        try Data(good).write(to: URL(fileURLWithPath: files + "tool-2.0.bin"))
        try Data(tampered).write(to: URL(fileURLWithPath: files + "tool-2.1.bin"))
        try Data("\(sha)  tool-2.0.bin\n\(freshSHA)  tool-2.1.bin\n".utf8).write(
            to: URL(fileURLWithPath: files + "SHA256SUMS"))
        func publish(_ versions: [String]) throws {
            let entries = versions.map { #"{"version": "\#($0)"}"# }.joined(separator: ", ")
            try Data(#"{"releases": [\#(entries)]}"#.utf8).write(to: URL(fileURLWithPath: files + "feed.json"))
        }
        try publish(["2.0"])
        let dir = try DaemonDirectory()
        try dir.writeOfflineInventory()
        try dir.writePlaybook("tool", Self.playbook(server))
        // The operators' webhook (a real HTTPS receiver) subscribes to artifact.rejected only; itvd trusts both
        // test CAs (the vendor's and the receiver's).
        let receiver = try WebhookReceiver(dir: dir.root + "/receiver")
        defer { receiver.stop() }
        let ca = dir.root + "/ca-bundle.pem"
        try
            (try Data(contentsOf: URL(fileURLWithPath: server.caPath))
            + Data(contentsOf: URL(fileURLWithPath: receiver.ca)))
            .write(to: URL(fileURLWithPath: ca))
        let config = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.config))
        try config.seekToEnd()
        try config.write(
            contentsOf: Data(
                """
                notify:
                  - {name: chat, kind: webhook, url: "https://127.0.0.1:\(receiver.port)/hook", events: [artifact.rejected]}

                """.utf8))
        try config.close()

        try await Self.running(dir, ca: ca) {
            #expect((try await dir.ctl("feed", "check", "tool")).status == 0)
            let plan = try await dir.ctl("rollout", "plan", "tool", "--version", "2.0")
            #expect(plan.status == 0, "\(plan.stdout) \(plan.stderr)")
            let text = try await dir.ctl("artifact", "list")
            #expect(text.status == 0, "\(text.stderr)")
            let lines = text.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("PROCEDURE  VERSION  SIZE") == true, "\(text.stdout)")
            let row = try #require(lines.first { $0.hasPrefix("tool ") }, "\(text.stdout)")
            for part in ["2.0", "293.0 KiB", String(sha.prefix(16)), "sha256sum", "cached, kept: newest 3"] {
                #expect(row.contains(part), "\(row)")
            }
            #expect(lines.last == "cache: 293.0 KiB (300000 bytes) of max_bytes 20.0 GiB, 0%", "\(text.stdout)")
            let json = try await dir.ctlJSON("artifact", "list")
            let artifacts = try #require(json["artifacts"] as? [[String: Any]])
            #expect(artifacts.count == 1 && json["total"] as? Int == 1)
            #expect(artifacts.first?["sha256"] as? String == sha)
            #expect(artifacts.first?["cached"] as? Bool == true)
            #expect(artifacts.first?["verified_by"] as? String == "sha256sum")
            #expect(artifacts.first?["kept_because"] as? String == "newest 3")
            #expect(json["cache_bytes"] as? Int == good.count)
            #expect(json["max_bytes"] as? Int == 20 << 30)

            // The vendor's 2.1 file is not what its SHA256SUMS names: rejected, and listed so.
            try publish(["2.0", "2.1"])
            #expect((try await dir.ctl("feed", "check", "tool")).status == 0)
            let refused = try await dir.ctl("rollout", "plan", "tool", "--version", "2.1")
            #expect(refused.status == 1 && refused.stderr.contains("artifact_rejected"), "\(refused.stderr)")
            let after = try await dir.ctl("artifact", "list", "--procedure", "tool")
            #expect(after.stdout.contains("REJECTED (checksum_mismatch)"), "\(after.stdout)")
            let rejected = try #require(
                (try await dir.ctlJSON("artifact", "list"))["artifacts"] as? [[String: Any]]
            ).first { $0["version"] as? String == "2.1" }
            #expect(rejected?["state"] as? String == "rejected")
            #expect(rejected?["expected_sha256"] as? String == freshSHA)
            #expect(rejected?["actual_sha256"] as? String == tamperedSHA)
            #expect(rejected?["cached"] as? Bool == false)
            // The webhook heard it once, with both hashes and the command to look.
            let heard = try await receiver.waitFor("artifact.rejected") {
                $0.contains { $0.event == "artifact.rejected" }
            }
            #expect(heard.count == 1 && heard.allSatisfy { $0.event == "artifact.rejected" }, "\(heard.map(\.event))")
            let message = heard.first?.json["message"] as? String ?? ""
            #expect(message.contains("release 2.1 of tool is rejected") && message.contains(tamperedSHA), "\(message)")
            #expect(heard.first?.json["command"] as? String == "itvctl artifact list --procedure tool")

            // Bad requests change nothing and say why.
            let unknown = try await dir.ctl("artifact", "list", "--procedure", "nope")
            #expect(unknown.status == 1 && unknown.stderr.contains("no procedure nope"), "\(unknown.stderr)")
            let tooMany = try await dir.ctl("artifact", "list", "--limit", "5001")
            #expect(tooMany.status != 0 && tooMany.stderr.contains("limit"), "\(tooMany.stderr)")
        }

        // Field size: the records of 300 procedures, 3 releases each (what a cache of a year holds), written
        // into the store while itvd is stopped.
        do {
            let store = try await SQLiteRolloutStore.open(stateDirectory: dir.root + "/state")
            var changes: [StoreChange] = []
            for p in 1...300 {
                for v in 1...3 {
                    let id = String(format: "app-%03d", p)
                    changes.append(
                        .artifact(
                            ArtifactRecord(
                                procedure: id, version: "1.\(v)", url: "https://vendor.example/\(id)-1.\(v).msi",
                                state: .verified, name: "\(id)-1.\(v).msi", size: Int64(p * 1_000_000 + v),
                                sha256: ITVCore.SHA256.hexDigest(Array("\(id) \(v)".utf8)), verifiedBy: "sha256sum",
                                at: Int64(v))))
                }
            }
            try await store.commit(changes)
            await store.close()
        }
        try await Self.running(dir, ca: ca) {
            let start = ContinuousClock.now
            let all = try await dir.ctlJSON("artifact", "list")
            let elapsed = ContinuousClock.now - start
            print("artifact list: 902 records over the socket in \(elapsed)")
            #expect(all["total"] as? Int == 902)
            #expect((all["artifacts"] as? [[String: Any]])?.count == 902)
            #expect(elapsed < .seconds(30), "listing 902 records took \(elapsed)")
            // Bounded: a page of 100 says on stderr how many it left out.
            let page = try await dir.ctl("artifact", "list", "--limit", "100")
            #expect(page.status == 0)
            #expect(page.stdout.split(separator: "\n").count == 102, "header, 100 rows, the cache line")
            #expect(page.stderr.contains("more: 802 of 902 records not listed"), "\(page.stderr)")
            // Trimmed records (their files are not in the cache) say so.
            #expect(page.stdout.contains("verified, not cached"))
        }
    }
}
