import Foundation
import GRDB
import ITVCore
import ITVEngine
import Testing

@testable import ITVStore

/// What `open` does before it lets anything write: the lock, the health check, the schema version.
@Suite struct OpenSafetyTests {
    @Test func aSecondOpenOfTheSameDirectoryIsRefusedNamingTheHolder() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            let first = try await SQLiteRolloutStore.open(stateDirectory: dir)
            let refused = await storeError { _ = try await SQLiteRolloutStore.open(stateDirectory: dir) }
            // Closed, the directory is free again, and the data is there.
            let second = try await expectRefusedWhileHeldThenReopened(dir, first, refused: refused)
            await second.close()
            do {
                try await second.commit([.rollout(try rolloutRecord(id: 2))])
                Issue.record("a closed store accepted a commit")
            } catch let error as StoreError {
                #expect(error.kind == .io)
            }
        }
    }

    /// Another process holds the lock on the state directory (a python3 holder, flock on the directory as
    /// itvd takes it, and no pid file at all): refused, naming that pid, which comes from the kernel's own
    /// record of the lock. The lock dies with its process, however it dies: after SIGKILL the directory opens.
    @Test func aLockHeldByAnotherProcessIsRefusedAndFreedWhenItIsKilled() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
            let holder = try ServerProcess(
                "/usr/bin/python3",
                [
                    "-c",
                    "import fcntl, os, sys, time\n"
                        + "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
                        + "time.sleep(120)\n",
                    dir,
                ])
            defer { holder.kill9() }
            let expected = "another itvd (pid \(holder.pid)) is using the state directory \(dir)"
            var refused: StoreError?
            let deadline = ContinuousClock.now + .seconds(30)
            while refused?.message != expected, ContinuousClock.now < deadline {
                do {
                    // Until the holder has the lock, we may get it first; give it back and try again.
                    let store = try await SQLiteRolloutStore.open(stateDirectory: dir)
                    await store.close()
                } catch let error as StoreError {
                    refused = error
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(refused?.kind == .locked)
            #expect(refused?.message == expected)
            holder.kill9()
            let store = try await SQLiteRolloutStore.open(stateDirectory: dir)
            await store.close()
        }
    }

    @Test func aStoredValueThisBinaryDoesNotKnowIsReportedNotTrappedOn() async throws {
        try await withTemporaryDirectory { root in
            try await withStore(in: root) { store in
                try await store.commit([
                    .rollout(try rolloutRecord(id: 1)), .hostRun(hostRunRecord(rollout: 1, host: "h", wave: 0)),
                ])
                try await store.withDatabase { db in
                    try db.execute(sql: "UPDATE host_runs SET phase = 'exploded'")
                }
                do {
                    _ = try await store.activeRollouts()
                    Issue.record("an unknown host run phase was read without complaint")
                } catch let error as StoreError {
                    #expect(error.kind == .corrupt)
                    #expect(error.message.contains("exploded"))
                    #expect(error.message.contains("host run h of rollout 1"))
                }
            }
        }
    }

    @Test func aDroppedStoreReleasesTheDirectory() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            do {
                let store = try await SQLiteRolloutStore.open(stateDirectory: dir)
                try await store.commit([.rollout(try rolloutRecord(id: 1))])
            }
            // The last reference may go away a moment later (a GRDB queue block still holds it): the
            // directory must be released soon, not necessarily at once.
            var again: SQLiteRolloutStore?
            for _ in 0..<200 where again == nil {
                do {
                    again = try await SQLiteRolloutStore.open(stateDirectory: dir)
                } catch let e as StoreError where e.kind == .locked {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            #expect(again != nil, "the directory stayed locked after the store was dropped")
            await again?.close()
        }
    }

    @Test func theDirectoryIsCreatedPrivateAndTheConnectionIsDurable() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/a/state"
            let store = try await SQLiteRolloutStore.open(stateDirectory: dir)
            let permissions = try FileManager.default.attributesOfItem(atPath: dir)[.posixPermissions] as? Int
            #expect(permissions == 0o750)
            let pragmas = try await store.withDatabase { db in
                [
                    try String.fetchOne(db, sql: "PRAGMA journal_mode"),
                    try String.fetchOne(db, sql: "PRAGMA synchronous"),
                    try String.fetchOne(db, sql: "PRAGMA foreign_keys"),
                ]
            }
            // synchronous 2 is FULL: the WAL is synced at every commit.
            #expect(pragmas == ["wal", "2", "1"])
            let pidText = try String(contentsOfFile: dir + "/itvd.pid", encoding: .utf8)
            #expect(pidText == "\(getpid())\n")
            await store.close()
        }
    }

    @Test(arguments: Damage.allCases)
    func aDamagedDatabaseIsRefusedAndLeftByteForByte(_ damage: Damage) async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            try await makeStoreWithManyPages(dir)
            let path = dir + "/itvd.sqlite"
            try damage.apply(to: path)
            let before = try FileFingerprint(path: path)
            for _ in 0..<2 {
                // Twice: a failed open releases the lock, and the second answer is the same.
                let refused = await storeError { _ = try await SQLiteRolloutStore.open(stateDirectory: dir) }
                #expect(refused?.kind == damage.expectedKind, "\(refused?.message ?? "no error")")
                #expect(refused?.message.contains(path) == true)
                if damage == .garbageLastPage {
                    // The integrity check names the damaged page.
                    #expect(refused?.message.contains("integrity check: ") == true, "\(refused?.message ?? "")")
                    #expect(refused?.message.contains("Page ") == true, "\(refused?.message ?? "")")
                }
                #expect(
                    refused?.message.contains("does not") == true, "says it will not repair: \(refused?.message ?? "")")
            }
            #expect(try FileFingerprint(path: path) == before)
        }
    }

    @Test func aDatabaseOfANewerItvdIsRefusedAndLeftByteForByte() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            var newer = StoreSchema.migrator
            newer.registerMigration("v2-from-the-future") { db in
                try db.execute(sql: "CREATE TABLE future_things (id INTEGER PRIMARY KEY)")
            }
            let store = try await SQLiteRolloutStore.open(stateDirectory: dir, migrator: newer)
            try await store.commit([.rollout(try rolloutRecord(id: 1))])
            await store.close()
            let path = dir + "/itvd.sqlite"
            let before = try FileFingerprint(path: path)
            let refused = await storeError { _ = try await SQLiteRolloutStore.open(stateDirectory: dir) }
            #expect(refused?.kind == .tooNew)
            #expect(refused?.message.contains("v2-from-the-future") == true)
            #expect(try FileFingerprint(path: path) == before)
            // The newer itvd can still use it.
            let again = try await SQLiteRolloutStore.open(stateDirectory: dir, migrator: newer)
            #expect(try await again.rollouts(includeFinished: true, limit: 5).map(\.id) == [1])
            await again.close()
        }
    }

    @Test func someoneElsesDatabaseIsRefusedAndLeftByteForByte() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
            let path = dir + "/itvd.sqlite"
            let other = try DatabaseQueue(path: path)
            try await other.write { db in
                try db.execute(sql: "CREATE TABLE invoices (id INTEGER PRIMARY KEY); INSERT INTO invoices VALUES (1)")
            }
            try other.close()
            let before = try FileFingerprint(path: path)
            let refused = await storeError { _ = try await SQLiteRolloutStore.open(stateDirectory: dir) }
            #expect(refused?.kind == .unreadable)
            #expect(refused?.message.contains("invoices") == true)
            #expect(try FileFingerprint(path: path) == before)
        }
    }

    @Test func aStateDirectoryThatIsAFileIsRefused() async throws {
        try await withTemporaryDirectory { root in
            let path = root + "/state"
            try Data("x".utf8).write(to: URL(fileURLWithPath: path))
            let refused = await storeError { _ = try await SQLiteRolloutStore.open(stateDirectory: path) }
            #expect(refused?.kind == .io)
        }
    }

}

/// Ways a database file gets damaged.
enum Damage: String, CaseIterable, Sendable {
    /// Garbage over every page but the first (the header stays valid).
    case garbagePages = "garbage pages"
    /// Garbage over the header of the last page only: ordinary reads at open do not notice, only the
    /// integrity check does.
    case garbageLastPage = "garbage in the last page"
    /// Cut in the middle of a page.
    case truncated
    /// Not a database at all.
    case textFile = "text file"

    var expectedKind: ITVErrorKind { .corrupt }

    func apply(to path: String) throws {
        let url = URL(fileURLWithPath: path)
        var bytes = try Data(contentsOf: url)
        switch self {
        case .garbagePages:
            #expect(bytes.count >= 4 * 4096, "the store should span several pages")
            var state: UInt64 = 42
            for index in 4096..<bytes.count {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                bytes[index] = UInt8(truncatingIfNeeded: state >> 33)
            }
        case .garbageLastPage:
            let start = bytes.count - 4096
            for index in start..<(start + 64) { bytes[index] = 0xA5 }
        case .truncated:
            bytes = bytes.prefix(bytes.count / 2 + 1000)
        case .textFile:
            bytes = Data("rollouts: none\nthis is not a database\n".utf8)
        }
        try bytes.write(to: url)
    }
}
