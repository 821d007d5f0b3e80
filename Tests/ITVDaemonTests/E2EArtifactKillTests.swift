import Foundation
import ITVCore
import ITVTestSupport
import Testing

extension E2ETests {
    /// `kill -9` of the real itvd while it downloads a release's artifact from a real HTTPS server (the feed
    /// tests' server, `/files-slow/`: about 640 KiB/s). The cache must never hold a file under a final name
    /// (`<state>/artifacts/sha256/<hex>`) that is not complete and verified; the interrupted download's
    /// `.partial-*` file is removed at the next start; the next plan downloads again, in full, once; and the
    /// rollout installs every host from exactly those bytes. Loopback range 127.0.76.
    ///
    /// `kill -9` during `stage` with the real itvd is `E2EStageTests.dropAndKillDuringStage`.
    @Suite("End to end: kill -9 of itvd during an artifact download", .serialized)
    struct E2EArtifactKillTests {
        static let app = "fake-dl"
        static let cacheDir = "/opt/itv-host/cache"
        /// At about 640 KiB/s, some 13 s of download: the kill lands in the middle.
        static let size = 8 << 20

        static func bytes() -> [UInt8] {
            var state: UInt64 = 0x1414
            var out = [UInt8](repeating: 0, count: size)
            for i in 0..<size {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                out[i] = UInt8(truncatingIfNeeded: state >> 33)
            }
            return out
        }

        /// The fake application with an `artifact:` block on `server`, whose install runs only when
        /// `{{artifact}}` holds exactly the bytes of `sha256`.
        static func playbook(_ server: TestServer, sha256: String) throws -> String {
            let install =
                "  install: 'test \"$(sha256sum < {{artifact}} | cut -c1-64)\" = \(sha256) && "
                + "/opt/itv-host/bin/fake-installer install \(app) {{version}}'\n"
            return try fakeAppPlaybook(id: app, waves: ["{name: all, size: rest, approval: auto, parallel: 3}"])
                .replacingOccurrences(
                    of: "  install: /opt/itv-host/bin/fake-installer install \(app) {{version}}\n", with: install
                )
                .replacingOccurrences(of: "  timeout: 2m\n", with: "  timeout: 2m\n  artifact_dir: \(cacheDir)\n")
                    + """

                    artifact:
                      url: '\(server.https("/files-slow/\(app)-{{version}}.bin"))'
                      checksums: {url: '\(server.https("/files/SHA256SUMS"))', format: sha256sum}
                      max_size: 64MiB

                    """
        }

        /// The cache directory's entries: (name, size).
        static func cache(_ itvd: E2EDaemon) -> [(name: String, size: Int)] {
            let dir = itvd.dir + "/state/artifacts/sha256"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            return names.sorted().map { name in
                let size = (try? FileManager.default.attributesOfItem(atPath: dir + "/" + name))?[.size]
                return (name, (size as? NSNumber)?.intValue ?? -1)
            }
        }

        static func fileSHA(_ path: String) -> String? {
            FileManager.default.contents(atPath: path).map { ITVCore.SHA256.hexDigest(Array($0)) }
        }

        @Test("kill -9 mid-download: no unverified file under a final name; after restart one download, installed")
        func killNineDuringTheDownload() async throws {
            let server = try TestServer()
            defer { server.stop() }
            let bytes = Self.bytes()
            let sha = ITVCore.SHA256.hexDigest(bytes)
            let files = server.directory.appendingPathComponent("files")
            try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
            try Data(bytes).write(to: files.appendingPathComponent("\(Self.app)-2.0.bin"))
            try Data("\(sha)  \(Self.app)-2.0.bin\n".utf8).write(to: files.appendingPathComponent("SHA256SUMS"))
            let artifactPath = "/files-slow/\(Self.app)-2.0.bin"

            try await E2EFleet.with(3, base: "127.0.76") { fleet in
                for host in fleet.hostNames { try fleet.setVersion(host, Self.app, "1.0") }
                try await E2EDaemon.with(
                    fleet: fleet, playbooks: [Self.app: try Self.playbook(server, sha256: sha)],
                    environment: ["ITVD_CA_BUNDLE": server.caPath]
                ) { itvd in
                    // `rollout plan` makes itvd download the artifact; the kill cuts it (and this itvctl) short.
                    let plan = Process()
                    plan.executableURL = URL(fileURLWithPath: itvd.itvctl)
                    plan.arguments = ["--socket", itvd.socket, "rollout", "plan", Self.app, "--version", "2.0"]
                    plan.standardOutput = FileHandle.nullDevice
                    plan.standardError = FileHandle.nullDevice
                    try plan.run()
                    defer { if plan.isRunning { kill(plan.processIdentifier, SIGKILL) } }
                    func partial() -> Int {
                        Self.cache(itvd).filter { $0.name.hasPrefix(".partial-") }.reduce(0) { $0 + max(0, $1.size) }
                    }
                    let deadline = Date().addingTimeInterval(120)
                    while partial() < 1 << 20, Date() < deadline, plan.isRunning {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    let before = partial()
                    itvd.kill9()
                    plan.waitUntilExit()
                    #expect(before >= 1 << 20 && before < Self.size, "killed at \(before) of \(Self.size) bytes")
                    // Only the interrupted download's temporary file: nothing under a final (hex) name.
                    let left = Self.cache(itvd)
                    #expect(!left.isEmpty && left.allSatisfy { $0.name.hasPrefix(".partial-") }, "\(left)")
                    #expect(left.allSatisfy { $0.size < Self.size }, "\(left)")
                    #expect(plan.terminationStatus != 0, "the plan cannot have been made")

                    // The restart removes the leftover; nothing is downloaded until a plan needs the artifact.
                    try await itvd.start()
                    #expect(Self.cache(itvd).isEmpty, "\(Self.cache(itvd))")
                    let text = try itvd.ok(["rollout", "plan", Self.app, "--version", "2.0"])
                    #expect(
                        text.contains("artifact: \(Self.app)-2.0.bin, \(Self.size) bytes, sha256 \(sha)"), "\(text)")
                    #expect(Self.cache(itvd).map(\.name) == [sha])
                    #expect(Self.fileSHA(itvd.dir + "/state/artifacts/sha256/" + sha) == sha)

                    // The rollout installs every host from those bytes, downloading nothing more.
                    let rid = try itvd.startRollout(Self.app, "2.0")
                    let done = try await itvd.waitForPhase(rid, "succeeded")
                    for host in fleet.hostNames {
                        #expect(done.run(host)?.phase == "succeeded", "\(done.summary)")
                        #expect(Self.fileSHA(fleet.root(host) + "/cache/\(Self.app)-2.0.bin") == sha, "\(host)")
                        #expect(fleet.installs(host, Self.app, of: "2.0") == 1, "\(host)")
                    }
                    #expect(Self.cache(itvd).map(\.name) == [sha])
                    let stats = try server.stats()
                    // Two GETs of the artifact: the one the kill cut, and the one that completed.
                    #expect(stats.counts[artifactPath] == 2, "\(stats.counts)")
                    let log = try String(contentsOfFile: itvd.log, encoding: .utf8)
                    #expect(log.contains("artifact of \(Self.app) 2.0 verified"), "\(itvd.logTail())")
                }
            }
        }
    }
}
