import Foundation
import ITVCore
import ITVPlaybookLoader
import ITVStore
import Testing

@testable import ITVEngine

extension E2ETests {
    /// The built itvd puts a rollout's artifact on 12 real SSH hosts (`stage`), then installs from it.
    ///
    /// Until the download side plans rollouts with artifacts, the test plans one as itvd would and writes it
    /// into the daemon's store while the daemon is stopped, with the verified file in the state directory's
    /// cache (`state/artifacts/sha256/<hex>`); the daemon takes it up like any rollout after a restart. The
    /// plan hash is the one itvd computes for the playbook in its directory, so the daemon runs it unattended.
    /// Its install refuses to run unless `{{artifact}}` holds exactly the planned bytes: a host can only be
    /// installed from a complete, checked file. Loopback range 127.0.74.
    @Suite("End to end: stage, the artifact on the hosts", .serialized)
    struct E2EStageTests {
        static let app = "fake-stage"
        static let cacheDir = "/opt/itv-host/cache"

        /// Pseudo-random bytes of `size`, into the daemon's artifact cache; the planned artifact.
        static func putArtifact(_ itvd: E2EDaemon, size: Int) throws -> PlannedArtifact {
            var state: UInt64 = 14
            var bytes = [UInt8](repeating: 0, count: size)
            for i in 0..<size {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                bytes[i] = UInt8(truncatingIfNeeded: state >> 33)
            }
            let sha = ITVCore.SHA256.hexDigest(bytes)
            let dir = itvd.dir + "/state/artifacts/sha256"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + sha))
            return PlannedArtifact(name: "fake-stage-2.0.bin", size: Int64(size), sha256: sha)
        }

        static func playbook() throws -> String {
            try fakeAppPlaybook(id: app, waves: ["{name: all, size: rest, approval: auto, parallel: 12}"])
                .replacingOccurrences(of: "  timeout: 2m\n", with: "  timeout: 2m\n  artifact_dir: \(cacheDir)\n")
        }

        /// Stops itvd, writes a started rollout of `app` 2.0 with `artifact` into its store, starts itvd.
        static func seedRollout(_ itvd: E2EDaemon, artifact: PlannedArtifact) async throws -> Int64 {
            itvd.stop()
            let loaded = SetLoader.load(configFile: itvd.config, overrides: ConfigOverrides())
            guard let set = loaded.value, var playbook = set.playbooks.first(where: { $0.id == app }) else {
                throw E2EFailure(description: "the test's configuration does not load: \(loaded.diagnostics)")
            }
            guard
                case .success(let planned) = WavePlanner.plan(
                    playbook: playbook, inventory: set.inventory, version: "2.0")
            else { throw E2EFailure(description: "cannot plan") }
            // The install the artifact's playbook will have: from {{artifact}}, and only from the planned bytes.
            let install =
                "test \"$(sha256sum < {{artifact}} | cut -c1-64)\" = \(artifact.sha256) && "
                + "/opt/itv-host/bin/fake-installer install \(app) {{version}}"
            guard case .success(let template) = CommandTemplate.parse(install) else {
                throw E2EFailure(description: "bad install template")
            }
            playbook.steps.install = StepCommand(all: template)
            let plan = RolloutPlan(
                procedure: app, version: "2.0", waves: planned.waves, hash: planned.hash, artifact: artifact)
            let store = try await SQLiteRolloutStore.open(stateDirectory: itvd.dir + "/state")
            let id = try await store.allocateRolloutID()
            var machine = RolloutStateMachine.create(
                id: id, plan: plan, recipe: RolloutRecipe(playbook: playbook, artifact: artifact),
                createdBy: "root", now: Int64(Date().timeIntervalSince1970 * 1000))
            _ = machine.handle(.start, now: Int64(Date().timeIntervalSince1970 * 1000))
            try await store.commit(machine.snapshot.changes(since: nil))
            await store.close()
            try await itvd.start()
            return id
        }

        static func sftpSessions(_ fleet: E2EFleet, _ host: String) -> Int {
            let log = (try? String(contentsOfFile: "\(fleet.dir)/hosts/\(host)/sftp.log", encoding: .utf8)) ?? ""
            return log.split(separator: "\n").filter { $0.hasPrefix("sftp ") }.count
        }

        static func staged(_ fleet: E2EFleet, _ host: String) -> String { fleet.root(host) + "/cache" }

        static func fileSHA(_ path: String) -> String? {
            FileManager.default.contents(atPath: path).map { ITVCore.SHA256.hexDigest(Array($0)) }
        }

        static func inode(_ path: String) -> UInt64? {
            (try? FileManager.default.attributesOfItem(atPath: path))?[.systemFileNumber].flatMap {
                ($0 as? NSNumber)?.uint64Value
            }
        }

        @Test("12 hosts: each holds the file with the right hash at {{artifact}}; a second rollout uploads nothing")
        func twelveHostsThenNothing() async throws {
            try await E2EFleet.with(12, base: "127.0.74") { fleet in
                for host in fleet.hostNames { try fleet.setVersion(host, Self.app, "1.0") }
                try await E2EDaemon.with(fleet: fleet, playbooks: [Self.app: try Self.playbook()]) { itvd in
                    let artifact = try Self.putArtifact(itvd, size: 3_000_000)
                    let rid = try await Self.seedRollout(itvd, artifact: artifact)
                    let done = try await itvd.waitForPhase(rid, "succeeded")
                    var inodes: [String: UInt64] = [:]
                    for host in fleet.hostNames {
                        let path = Self.staged(fleet, host) + "/" + artifact.name
                        #expect(Self.fileSHA(path) == artifact.sha256, "\(host)")
                        #expect(
                            (try? FileManager.default.contentsOfDirectory(atPath: Self.staged(fleet, host)))
                                == [artifact.name], "\(host): leftovers")
                        #expect(fleet.version(host, Self.app) == "2.0")
                        #expect(fleet.installs(host, Self.app, of: "2.0") == 1)
                        #expect(Self.sftpSessions(fleet, host) == 1)
                        #expect(done.run(host)?.phase == "succeeded")
                        inodes[host] = Self.inode(path)
                    }
                    // The same version again on hosts that lost the application but kept the file: every host is
                    // staged (its stage finds the file) and installed, and no byte is sent.
                    for host in fleet.hostNames { try fleet.setVersion(host, Self.app, "1.0") }
                    let again = try await Self.seedRollout(itvd, artifact: artifact)
                    try await itvd.waitForPhase(again, "succeeded")
                    for host in fleet.hostNames {
                        #expect(Self.sftpSessions(fleet, host) == 1, "\(host): uploaded again")
                        #expect(Self.inode(Self.staged(fleet, host) + "/" + artifact.name) == inodes[host])
                        #expect(fleet.installs(host, Self.app, of: "2.0") == 2)
                    }
                    let log = try String(contentsOfFile: itvd.log, encoding: .utf8)
                    #expect(!log.contains("stage_failed"))
                }
            }
        }

        @Test(
            "a dropped upload is retried; kill -9 during stage: after restart every host is staged and installed once")
        func dropAndKillDuringStage() async throws {
            try await E2EFleet.with(12, base: "127.0.75") { fleet in
                for host in fleet.hostNames { try fleet.setVersion(host, Self.app, "1.0") }
                // 12 x 4 MB at 8 MB/s over all hosts: about 6 s of uploads, in which the kill lands.
                try await E2EDaemon.with(
                    fleet: fleet, playbooks: [Self.app: try Self.playbook()],
                    environment: ["ITVD_UPLOAD_RATE": "8000000"]
                ) { itvd in
                    let artifact = try Self.putArtifact(itvd, size: 4_000_000)
                    try ProbeFleet.script(["switch", fleet.dir, "fleet-001", "sftpdrop", "on"])
                    let rid = try await Self.seedRollout(itvd, artifact: artifact)
                    // Kill once some bytes are out but not all hosts are done.
                    let deadline = Date().addingTimeInterval(120)
                    while fleet.hostNames.allSatisfy({ Self.sftpSessions(fleet, $0) == 0 }), Date() < deadline {
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    try await Task.sleep(for: .milliseconds(1500))
                    let before = try itvd.show(rid)
                    // Operators see the step: `rollout show` (JSON and table) names it while bytes go out.
                    #expect(before.hostRuns.contains { $0.step == "stage" }, "\(before.summary)")
                    let table = try itvd.ok(["rollout", "show", String(rid)])
                    #expect(table.contains(" stage"), "\(table)")
                    itvd.kill9()
                    let partial = fleet.hostNames.filter {
                        FileManager.default.fileExists(
                            atPath: Self.staged(fleet, $0) + "/.itv-stage-\(artifact.sha256.prefix(16)).part")
                    }
                    for host in fleet.hostNames {
                        // Whatever the kill interrupted: the final name holds the whole file or nothing.
                        let sha = Self.fileSHA(Self.staged(fleet, host) + "/" + artifact.name)
                        #expect(sha == nil || sha == artifact.sha256, "\(host): partial file under the final name")
                        if sha == nil { #expect(fleet.installs(host, Self.app, of: "2.0") == 0) }
                    }
                    print("stage kill: \(partial.count) hosts had a partial upload; \(before.summary)")
                    itvd.environment = [:]
                    try await itvd.start()
                    let done = try await itvd.waitForPhase(rid, "succeeded")
                    for host in fleet.hostNames {
                        #expect(Self.fileSHA(Self.staged(fleet, host) + "/" + artifact.name) == artifact.sha256)
                        #expect(
                            (try? FileManager.default.contentsOfDirectory(atPath: Self.staged(fleet, host)))
                                == [artifact.name], "\(host): leftovers")
                        #expect(
                            fleet.installs(host, Self.app, of: "2.0") == 1, "\(host): \(fleet.ledger(host, Self.app))")
                        #expect(done.run(host)?.phase == "succeeded")
                    }
                    // fleet-001 dropped its first SFTP session: it took at least two.
                    #expect(Self.sftpSessions(fleet, "fleet-001") >= 2)
                }
            }
        }
    }
}
