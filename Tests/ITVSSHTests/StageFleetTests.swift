import Foundation
import ITVCore
import ITVEngine
import ITVSSH
import Testing

/// `stage` against real OpenSSH servers (`scripts/fleet.sh`): SFTP upload, hash checked by the host's
/// `sha256sum`, rename; nothing sent when the host holds the file; dropped connections; the upload rate.
/// Fleet hosts share the machine's file system except `/opt/itv-host`, so the artifact goes there, and the
/// test reads each host's copy at `DIR/hosts/NAME/root/cache`.
@Suite("Stage over SFTP on a real fleet", .serialized)
struct StageFleetTests {
    /// A local artifact of `size` pseudo-random bytes, named by its hash as in the daemon's cache. Written and
    /// hashed 64 KiB at a time: other suites in this process measure their memory (HostileHostTests).
    static func artifact(size: Int, seed: UInt64 = 1) throws -> (path: String, sha256: String, size: Int64) {
        var state = seed
        var hasher = ITVCore.SHA256()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("itv-cache-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let partial = dir + "/partial"
        _ = FileManager.default.createFile(atPath: partial, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: partial))
        var written = 0
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while written < size {
            let n = min(chunk.count, size - written)
            for i in 0..<n {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                chunk[i] = UInt8(truncatingIfNeeded: state >> 33)
            }
            hasher.update(chunk[0..<n])
            try handle.write(contentsOf: chunk[0..<n])
            written += n
        }
        try handle.close()
        let sha = ITVCore.SHA256.hex(hasher.finalize())
        let path = dir + "/" + sha
        try FileManager.default.moveItem(atPath: partial, toPath: path)
        return (path, sha, Int64(size))
    }

    static func request(_ a: (path: String, sha256: String, size: Int64), name: String = "app-2.0.bin") -> StageRequest
    {
        StageRequest(
            localPath: a.path, placement: ArtifactPlacement(os: .linux, directory: "/opt/itv-host/cache", name: name),
            size: a.size, sha256: a.sha256)
    }

    /// Host `i`'s artifact directory as the test machine sees it.
    static func cacheDir(_ fleet: Fleet, _ i: Int) -> String { "\(fleet.dir)/hosts/\(fleet.name(i))/root/cache" }

    static func sftpSessions(_ fleet: Fleet, _ i: Int) -> Int {
        let log = (try? String(contentsOfFile: "\(fleet.dir)/hosts/\(fleet.name(i))/sftp.log", encoding: .utf8)) ?? ""
        return log.split(separator: "\n").filter { $0.hasPrefix("sftp ") }.count
    }

    static func fileSHA(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { ITVCore.SHA256.hexDigest(Array($0)) }
    }

    static func stage(
        _ executor: LibSSH2Executor, _ host: RemoteHost, _ request: StageRequest, timeout: Duration = .seconds(120)
    ) async -> StageOutcome {
        switch await executor.connect(to: host) {
        case .failure(let error): return .interrupted(error.outcome)
        case .success(let session):
            let outcome = await session.stage(request, timeout: timeout)
            await session.close()
            return outcome
        }
    }

    static func inode(_ path: String) -> (UInt64, Date)? {
        guard let a = try? FileManager.default.attributesOfItem(atPath: path),
            let inode = (a[.systemFileNumber] as? NSNumber)?.uint64Value, let mtime = a[.modificationDate] as? Date
        else { return nil }
        return (inode, mtime)
    }

    @Test("12 hosts at once each hold the file with the right hash; a second stage sends nothing")
    func twelveHosts() async throws {
        let a = try Self.artifact(size: 5_000_000)
        defer { try? FileManager.default.removeItem(atPath: (a.path as NSString).deletingLastPathComponent) }
        try await Fleet.with(12) { fleet in
            // 240,000 bytes in flight per host (not the default 960,000): 12 at once stay small in this process.
            var config = fleet.configuration()
            config.uploadChunk = 240_000
            let executor = LibSSH2Executor(configuration: config)
            let request = Self.request(a)
            let first = await withTaskGroup(of: (Int, StageOutcome).self) { group in
                for i in 1...12 { group.addTask { (i, await Self.stage(executor, fleet.host(i), request)) } }
                var out: [Int: StageOutcome] = [:]
                for await (i, o) in group { out[i] = o }
                return out
            }
            var before: [Int: (UInt64, Date)] = [:]
            for i in 1...12 {
                guard case .staged(let bytes, _) = first[i] else {
                    Issue.record("host \(i): \(String(describing: first[i]))")
                    continue
                }
                #expect(bytes == a.size)
                let path = Self.cacheDir(fleet, i) + "/app-2.0.bin"
                #expect(Self.fileSHA(path) == a.sha256, "host \(i)")
                #expect(
                    (try? FileManager.default.contentsOfDirectory(atPath: Self.cacheDir(fleet, i))) == ["app-2.0.bin"])
                #expect(Self.sftpSessions(fleet, i) == 1)
                before[i] = Self.inode(path)
            }
            for i in 1...12 {
                let again = await Self.stage(executor, fleet.host(i), request)
                guard case .staged(0, _) = again else {
                    Issue.record("host \(i) second stage: \(again)")
                    continue
                }
                #expect(Self.sftpSessions(fleet, i) == 1, "host \(i): an SFTP session for a file it had")
                let after = Self.inode(Self.cacheDir(fleet, i) + "/app-2.0.bin")
                #expect(after?.0 == before[i]?.0 && after?.1 == before[i]?.1, "host \(i): the file was rewritten")
            }
        }
    }

    @Test("a connection dropped in the middle of the upload leaves the final name untouched; the next stage completes")
    func dropMidUpload() async throws {
        let a = try Self.artifact(size: 6_000_000, seed: 2)
        defer { try? FileManager.default.removeItem(atPath: (a.path as NSString).deletingLastPathComponent) }
        try await Fleet.with(1) { fleet in
            // 2 MB/s: the 1 s drop of `sftpdrop` lands in the middle of a 3 s upload.
            var config = fleet.configuration()
            config.uploadRate = 2_000_000
            let executor = LibSSH2Executor(configuration: config)
            let request = Self.request(a)
            let final = Self.cacheDir(fleet, 1) + "/app-2.0.bin"
            let temporary = Self.cacheDir(fleet, 1) + "/.itv-stage-\(a.sha256.prefix(16)).part"
            // An older file under the final name (another build of the same name): it must stay whole until
            // the new one is checked.
            try FileManager.default.createDirectory(atPath: Self.cacheDir(fleet, 1), withIntermediateDirectories: true)
            try Data("old build".utf8).write(to: URL(fileURLWithPath: final))

            try fleet.switchHost(1, "sftpdrop")
            let dropped = await Self.stage(executor, fleet.host(1), request)
            guard case .interrupted(let outcome) = dropped else {
                Issue.record("expected an interruption, got \(dropped)")
                return
            }
            #expect(["no_exit_status", "protocol_error", "connect_failed"].contains(outcome.kind), "\(outcome)")
            #expect(FileManager.default.contents(atPath: final) == Data("old build".utf8))
            let partial = (try? FileManager.default.attributesOfItem(atPath: temporary)[.size] as? NSNumber)?.int64Value
            #expect(partial.map { $0 > 0 && $0 < a.size } == true, "partial upload: \(String(describing: partial))")

            let retried = await Self.stage(executor, fleet.host(1), request)
            guard case .staged(let bytes, _) = retried else {
                Issue.record("retry: \(retried)")
                return
            }
            #expect(bytes == a.size)
            #expect(Self.fileSHA(final) == a.sha256)
            #expect(!FileManager.default.fileExists(atPath: temporary))
        }
    }

    @Test("a host that drops every command: the stage is interrupted before any byte, nothing under the final name")
    func dropEveryCommand() async throws {
        let a = try Self.artifact(size: 100_000, seed: 3)
        defer { try? FileManager.default.removeItem(atPath: (a.path as NSString).deletingLastPathComponent) }
        try await Fleet.with(1) { fleet in
            try fleet.switchHost(1, "drop")
            let executor = LibSSH2Executor(configuration: fleet.configuration())
            let outcome = await Self.stage(executor, fleet.host(1), Self.request(a))
            guard case .interrupted = outcome else {
                Issue.record("expected an interruption, got \(outcome)")
                return
            }
            #expect(!FileManager.default.fileExists(atPath: Self.cacheDir(fleet, 1) + "/app-2.0.bin"))
            #expect(Self.sftpSessions(fleet, 1) == 0)
        }
    }

    @Test("bytes that do not hash to the plan's sha256 are removed on the host and never get the final name")
    func mismatchIsRefused() async throws {
        let a = try Self.artifact(size: 200_000, seed: 4)
        defer { try? FileManager.default.removeItem(atPath: (a.path as NSString).deletingLastPathComponent) }
        try await Fleet.with(1) { fleet in
            let executor = LibSSH2Executor(configuration: fleet.configuration())
            // The cache file changed behind the daemon's back (same size): the host's check catches it.
            var bytes = try Data(contentsOf: URL(fileURLWithPath: a.path))
            bytes[0] ^= 0xFF
            try bytes.write(to: URL(fileURLWithPath: a.path))
            let outcome = await Self.stage(executor, fleet.host(1), Self.request(a))
            guard case .refused("stage_hash_mismatch", let message) = outcome else {
                Issue.record("expected stage_hash_mismatch, got \(outcome)")
                return
            }
            #expect(message.contains(a.sha256))
            #expect((try? FileManager.default.contentsOfDirectory(atPath: Self.cacheDir(fleet, 1)))?.isEmpty == true)
        }
    }

    @Test("a cached artifact of another size than the plan's is refused before any byte goes out")
    func sizeMismatchSendsNothing() async throws {
        let a = try Self.artifact(size: 300_000, seed: 6)
        defer { try? FileManager.default.removeItem(atPath: (a.path as NSString).deletingLastPathComponent) }
        try await Fleet.with(1) { fleet in
            let executor = LibSSH2Executor(configuration: fleet.configuration())
            // The cache file grew behind the daemon's back.
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: a.path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("more".utf8))
            try handle.close()
            let outcome = await Self.stage(executor, fleet.host(1), Self.request(a))
            guard case .refused("artifact_missing", let message) = outcome else {
                Issue.record("expected artifact_missing, got \(outcome)")
                return
            }
            #expect(message.contains("has 300004 bytes, the plan says 300000"), "\(message)")
            #expect(Self.sftpSessions(fleet, 1) == 0, "an SFTP session for a file of the wrong size")
            #expect((try? FileManager.default.contentsOfDirectory(atPath: Self.cacheDir(fleet, 1)))?.isEmpty == true)
        }
    }

    @Test("the upload rate holds over all hosts together")
    func rateOverAllHosts() async throws {
        let a = try Self.artifact(size: 2_000_000, seed: 5)
        defer { try? FileManager.default.removeItem(atPath: (a.path as NSString).deletingLastPathComponent) }
        try await Fleet.with(3) { fleet in
            var config = fleet.configuration()
            config.uploadRate = 2_000_000
            let executor = LibSSH2Executor(configuration: config)
            let request = Self.request(a)
            let start = ContinuousClock.now
            await withTaskGroup(of: Void.self) { group in
                for i in 1...3 {
                    group.addTask {
                        let outcome = await Self.stage(executor, fleet.host(i), request)
                        guard case .staged = outcome else {
                            Issue.record("host \(i): \(outcome)")
                            return
                        }
                    }
                }
            }
            let elapsed = ContinuousClock.now - start
            // 6 MB at 2 MB/s over all three: at least 2.5 s whatever the machine's speed (the first quarter
            // second's worth may go as a burst); each alone would take 1 s at the rate.
            #expect(elapsed > .milliseconds(2_500), "6 MB in \(elapsed) at 2 MB/s")
            for i in 1...3 { #expect(Self.fileSHA(Self.cacheDir(fleet, i) + "/app-2.0.bin") == a.sha256) }
        }
    }
}
