import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built `itvd run` with a state store that existed and is now missing, empty, damaged, too new, unreadable
/// or locked: it does not start, says why on stderr, in the journal (here: the stderr log) and in `STATUS=`,
/// exits 65 (75 when another itvd holds the directory), and leaves the store's bytes exactly as they were.
@Suite("itvd refuses an unusable state store at start", .serialized)
struct StoreStartTests {
    enum Fault: String, CaseIterable, Sendable {
        case emptied, truncated, deleted, flippedBytes, tooNew, directoryInPlace

        /// What the message must say.
        var says: String {
            switch self {
            case .emptied: "is empty (0 bytes) but"
            case .truncated: "is corrupt"
            case .deleted: "is missing but"
            case .flippedBytes: "is corrupt"
            case .tooNew: "was written by a newer itvd (unknown migrations: v99-from-the-future)"
            case .directoryInPlace: "is a directory, not a database file"
            }
        }

        func apply(to state: String) throws {
            let path = state + "/itvd.sqlite"
            switch self {
            case .emptied:
                #expect(truncate(path, 0) == 0)
            case .truncated:
                let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
                #expect(size > 8_192)
                #expect(truncate(path, off_t(size / 2 + 100)) == 0)
            case .deleted:
                try FileManager.default.removeItem(atPath: path)
            case .flippedBytes:
                var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
                for page in stride(from: 4096, to: bytes.count, by: 4096) {
                    bytes[page + 3] ^= 0x5A
                    bytes[page + 4] ^= 0x21
                }
                try bytes.write(to: URL(fileURLWithPath: path))
            case .tooNew:
                let r = try runProgram(
                    "/usr/bin/sqlite3", [path, "INSERT INTO grdb_migrations VALUES ('v99-from-the-future');"])
                #expect(r.status == 0, "\(r.stderr)")
            case .directoryInPlace:
                try FileManager.default.removeItem(atPath: path)
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            }
        }
    }

    /// A daemon directory whose store was created by a first itvd that then stopped (a clean stop: only the
    /// database and the marker remain).
    func directoryWithAStore() async throws -> DaemonDirectory {
        let dir = try DaemonDirectory()
        try dir.writeOfflineInventory()
        try dir.writePlaybook("app", fleetPlaybook("app", waves: ["{name: all, size: rest, approval: window}"]))
        let notify = try NotifySocket()
        let first = try dir.startDaemon(environment: ["NOTIFY_SOCKET": notify.path])
        try await withDaemon(first) { daemon in
            let ready = await notify.waitFor(from: daemon.pid, timeout: .seconds(120)) { $0.hasPrefix("READY=1") }
            try #require(ready != nil, "the first itvd did not start: \(daemon.stderr)")
            #expect((try await dir.ctl("window", "open", "evening")).status == 0)
        }
        #expect(FileManager.default.fileExists(atPath: dir.root + "/state/itvd.state"))
        return dir
    }

    /// Every regular file of the state directory but the pid file, by content.
    static func contents(_ state: String) -> [String: Data] {
        var files: [String: Data] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: state)) ?? [] where name != "itvd.pid" {
            if let data = FileManager.default.contents(atPath: state + "/" + name), !name.hasSuffix("-shm"),
                !(name.hasSuffix("-wal") && data.isEmpty)
            {
                files[name] = data
            }
        }
        return files
    }

    @Test(arguments: Fault.allCases)
    func refusedWithItsOwnMessageAndLeftAsItWas(_ fault: Fault) async throws {
        let dir = try await directoryWithAStore()
        let state = dir.root + "/state"
        try fault.apply(to: state)
        let before = Self.contents(state)
        let notify = try NotifySocket()
        let daemon = try dir.startDaemon(environment: ["NOTIFY_SOCKET": notify.path])
        let status = await daemon.waitForExit(.seconds(120))
        if status == nil { await daemon.terminate() }
        #expect(status == 65, "\(daemon.stderr)")
        let line = "itvd: not started: cannot use the state store in \(state): the state store \(state)/itvd.sqlite"
        #expect(daemon.stderr.contains(line), "\(daemon.stderr)")
        #expect(daemon.stderr.contains(fault.says), "\(daemon.stderr)")
        // The log entry (the journal's, here on stderr) with its event, and STATUS= for systemctl status.
        #expect(daemon.stderr.contains("ITV_EVENT=store.failed"), "\(daemon.stderr)")
        let sent = notify.messages(from: daemon.pid)
        #expect(sent.contains { $0.hasPrefix("STATUS=itvd: not started: cannot use the state store") }, "\(sent)")
        #expect(!sent.contains { $0.hasPrefix("READY=1") })
        #expect(Self.contents(state) == before)
        if fault == .deleted { #expect(!FileManager.default.fileExists(atPath: state + "/itvd.sqlite")) }
    }

    /// As a user without root's powers (root reads any file): a store that user cannot read is refused too.
    @Test func anUnreadableStoreIsRefusedForAnUnprivilegedItvd() async throws {
        let dir = try await directoryWithAStore()
        let state = dir.root + "/state"
        for path in [state, state + "/itvd.sqlite", state + "/itvd.state", state + "/itvd.pid"] {
            #expect(chown(path, 65_534, 65_534) == 0, "\(path)")
        }
        #expect(chmod(state + "/itvd.sqlite", 0) == 0)
        let before = Self.contents(state)
        let daemon = try dir.startDaemon(
            launcher: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        let status = await daemon.waitForExit(.seconds(120))
        if status == nil { await daemon.terminate() }
        #expect(status == 65, "\(daemon.stderr)")
        #expect(
            daemon.stderr.contains("for reading and writing: Permission denied (itvd runs as uid 65534)"),
            "\(daemon.stderr)")
        #expect(Self.contents(state) == before)
    }

    /// The lock cannot be lost: with the first itvd running, its pid file deleted, a second one is refused
    /// (exit 75), names the first, and the first keeps working.
    @Test func aSecondItvdIsRefusedAfterThePidFileWasDeleted() async throws {
        let dir = try await directoryWithAStore()
        let notify = try NotifySocket()
        let first = try dir.startDaemon(environment: ["NOTIFY_SOCKET": notify.path])
        try await withDaemon(first) { daemon in
            let ready = await notify.waitFor(from: daemon.pid, timeout: .seconds(120)) { $0.hasPrefix("READY=1") }
            try #require(ready != nil, "\(daemon.stderr)")
            try FileManager.default.removeItem(atPath: dir.root + "/state/itvd.pid")
            let second = try dir.startDaemon()
            let status = await second.waitForExit(.seconds(120))
            if status == nil { await second.terminate() }
            #expect(status == 75, "\(second.stderr)")
            #expect(
                second.stderr.contains("another itvd (pid \(daemon.pid)) is using the state directory"),
                "\(second.stderr)")
            let answer = try await dir.ctl("status")
            #expect(answer.status == 0, "\(answer.stderr)")
        }
    }

    /// Starting over is an operator's explicit act: `--init-store` sets the empty file aside and starts; on a
    /// healthy store it refuses.
    @Test func initStoreStartsOverOnlyWhenAsked() async throws {
        let dir = try await directoryWithAStore()
        let state = dir.root + "/state"
        let refused = try ServerProcess(
            dir.itvd, ["run", "--config", dir.config, "--log", "stderr", "--init-store"],
            environment: childEnvironment())
        let refusedStatus = await refused.waitForExit(.seconds(120))
        if refusedStatus == nil { await refused.terminate() }
        #expect(refusedStatus == 65, "\(refused.stderr)")
        #expect(refused.stderr.contains("is healthy; itvd does not discard a healthy store"), "\(refused.stderr)")

        #expect(truncate(state + "/itvd.sqlite", 0) == 0)
        let notify = try NotifySocket()
        let fresh = try ServerProcess(
            dir.itvd, ["run", "--config", dir.config, "--log", "stderr", "--init-store"],
            environment: childEnvironment(["NOTIFY_SOCKET": notify.path]))
        try await withDaemon(fresh) { daemon in
            let ready = await notify.waitFor(from: daemon.pid, timeout: .seconds(120)) { $0.hasPrefix("READY=1") }
            try #require(ready != nil, "\(daemon.stderr)")
            #expect(
                daemon.stderr.contains("--init-store: set aside \(state)/itvd.sqlite.set-aside-"), "\(daemon.stderr)")
            let windows = try await dir.ctl("window", "list")
            #expect(windows.status == 0)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: state)
        #expect(names.contains { $0.hasPrefix("itvd.sqlite.set-aside-") }, "\(names)")
        #expect(names.contains { $0.hasPrefix("itvd.state.set-aside-") }, "\(names)")
    }
}
