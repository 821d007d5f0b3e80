import Foundation
import GRDB
import ITVCore
import ITVEngine
import Testing

@testable import ITVStore

#if canImport(Glibc)
    import Glibc
#endif

/// A store that existed and is now missing, empty, damaged, replaced or unreadable is refused with its own
/// message, and its files are left exactly as they were; starting over is `--init-store`, on purpose.
@Suite struct StoreFaultTests {
    /// A store with one rollout, closed (checkpointed: only `itvd.sqlite`, `itvd.state` and `itvd.pid` remain).
    private func makeStore(_ dir: String) async throws {
        let store = try await SQLiteRolloutStore.open(stateDirectory: dir)
        #expect(store.openReport.created)
        try await store.commit([.rollout(try rolloutRecord(id: 1))])
        await store.close()
    }

    private func refusal(_ dir: String, mode: StoreOpenMode = .existing) async -> StoreError? {
        await storeError { _ = try await SQLiteRolloutStore.open(stateDirectory: dir, mode: mode) }
    }

    /// Every file of the directory with its content, so that "untouched" covers new files too. Left out: the
    /// pid file, and the empty write-ahead log and shared-memory index that SQLite's read-only connection (the
    /// health check) creates beside a WAL database; they hold nothing.
    private func snapshot(_ dir: String) throws -> [String: FileFingerprint] {
        var files: [String: FileFingerprint] = [:]
        let created = ["itvd.pid", "itvd.sqlite-shm", "itvd.sqlite-wal"]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) {
            let size = (try FileManager.default.attributesOfItem(atPath: dir + "/" + name)[.size] as? Int) ?? 0
            if created.contains(name), name == "itvd.pid" || name.hasSuffix("-shm") || size == 0 { continue }
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: dir + "/" + name, isDirectory: &isDirectory)
            if !isDirectory.boolValue { files[name] = try FileFingerprint(path: dir + "/" + name) }
        }
        return files
    }

    @Test func aNewStoreIsCreatedCompleteWithAMarkerThatNamesIt() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            try await makeStore(dir)
            let names = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
            #expect(names == ["itvd.sqlite", "itvd.state", "itvd.pid"], "\(names)")
            let marker = try #require(try StoreMarker.read(directory: dir))
            let header = try StoreFiles.check(path: dir + "/itvd.sqlite", migrator: StoreSchema.migrator)
            #expect(header.applicationID == 0x6974_7664)
            #expect(marker.storeID == header.storeID)
            #expect((marker.storeID ?? 0) > 0)
            let again = try await SQLiteRolloutStore.open(stateDirectory: dir)
            #expect(!again.openReport.created && !again.openReport.markerRepaired)
            #expect(try await again.rollouts(includeFinished: true, limit: 5).map(\.id) == [1])
            await again.close()
        }
    }

    @Test func anEmptiedStoreIsRefusedNotStartedOver() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            try await makeStore(dir)
            #expect(truncate(dir + "/itvd.sqlite", 0) == 0)
            let before = try snapshot(dir)
            for _ in 0..<2 {
                let refused = await refusal(dir)
                #expect(refused?.kind == .empty)
                #expect(refused?.message.contains("is empty (0 bytes)") == true, "\(refused?.message ?? "")")
                #expect(refused?.message.contains("itvd.state says that a store was created here") == true)
                #expect(refused?.message.contains("itvd run --init-store") == true)
            }
            #expect(try snapshot(dir) == before)
        }
    }

    /// The marker went too (or the store predates it): an empty file is still never taken for a new store,
    /// because itvd never leaves one behind when it creates a store.
    @Test func anEmptyFileWithoutAMarkerIsRefusedToo() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
            #expect(FileManager.default.createFile(atPath: dir + "/itvd.sqlite", contents: Data()))
            let before = try snapshot(dir)
            let refused = await refusal(dir)
            #expect(refused?.kind == .empty)
            #expect(refused?.message.contains("itvd.state") == false)
            #expect(try snapshot(dir) == before)
        }
    }

    @Test func aDeletedStoreIsRefusedAndNothingIsCreated() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            try await makeStore(dir)
            try FileManager.default.removeItem(atPath: dir + "/itvd.sqlite")
            let before = try snapshot(dir)
            let refused = await refusal(dir)
            #expect(refused?.kind == .missing)
            #expect(refused?.message.contains("is missing but") == true, "\(refused?.message ?? "")")
            #expect(try snapshot(dir) == before)
            #expect(!FileManager.default.fileExists(atPath: dir + "/itvd.sqlite"))
        }
    }

    @Test func aDeletedStoreWhoseWriteAheadLogRemainsIsRefusedWithoutAMarker() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
            #expect(
                FileManager.default.createFile(
                    atPath: dir + "/itvd.sqlite-wal", contents: Data(repeating: 7, count: 64)))
            let refused = await refusal(dir)
            #expect(refused?.kind == .missing)
            #expect(refused?.message.contains("itvd.sqlite-wal is there") == true, "\(refused?.message ?? "")")
            #expect(!FileManager.default.fileExists(atPath: dir + "/itvd.sqlite"))
        }
    }

    /// Bits flipped in the structure of the b-tree pages (their cell counts): the integrity check finds it.
    @Test func flippedBytesAreFoundByTheIntegrityCheck() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            try await makeStoreWithManyPages(dir)
            let path = dir + "/itvd.sqlite"
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            let pageSize = 4096
            for page in stride(from: pageSize, to: bytes.count, by: pageSize) {
                bytes[page + 3] ^= 0x5A
                bytes[page + 4] ^= 0x21
            }
            try bytes.write(to: URL(fileURLWithPath: path))
            let before = try snapshot(dir)
            let refused = await refusal(dir)
            #expect(refused?.kind == .corrupt, "\(refused?.message ?? "no error")")
            #expect(refused?.message.contains("does not repair it") == true, "\(refused?.message ?? "")")
            #expect(try snapshot(dir) == before)
        }
    }

    @Test func aDirectoryInPlaceOfTheStoreIsRefused() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            try await makeStore(dir)
            try FileManager.default.removeItem(atPath: dir + "/itvd.sqlite")
            try FileManager.default.createDirectory(atPath: dir + "/itvd.sqlite", withIntermediateDirectories: false)
            let refused = await refusal(dir)
            #expect(refused?.kind == .unreadable)
            #expect(refused?.message.contains("is a directory, not a database file") == true)
        }
    }

    @Test func aStoreReachedThroughASymlinkOrAHardLinkIsRefused() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            try await makeStore(dir)
            try FileManager.default.moveItem(atPath: dir + "/itvd.sqlite", toPath: root + "/elsewhere.sqlite")
            try FileManager.default.createSymbolicLink(
                atPath: dir + "/itvd.sqlite", withDestinationPath: root + "/elsewhere.sqlite")
            let symlinked = await refusal(dir)
            #expect(symlinked?.kind == .unreadable)
            #expect(symlinked?.message.contains("is a symbolic link") == true)
            try FileManager.default.removeItem(atPath: dir + "/itvd.sqlite")
            #expect(link(root + "/elsewhere.sqlite", dir + "/itvd.sqlite") == 0)
            let linked = await refusal(dir)
            #expect(linked?.kind == .unreadable)
            #expect(linked?.message.contains("has 2 hard links") == true, "\(linked?.message ?? "")")
        }
    }

    /// Another store's file (a healthy itvd store, but not the one created here) is refused by its identity.
    @Test func anotherStoresFileIsRefusedAsReplaced() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            let other = root + "/other"
            try await makeStore(dir)
            try await makeStore(other)
            try FileManager.default.removeItem(atPath: dir + "/itvd.sqlite")
            try FileManager.default.copyItem(atPath: other + "/itvd.sqlite", toPath: dir + "/itvd.sqlite")
            let before = try snapshot(dir)
            let refused = await refusal(dir)
            #expect(refused?.kind == .replaced)
            #expect(refused?.message.contains("is not the store that was created here") == true)
            #expect(try snapshot(dir) == before)
        }
    }

    /// A backup copy of the same store carries the same identity: restoring it is the documented way back.
    @Test func aRestoredBackupOfTheSameStoreOpens() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            try await makeStore(dir)
            try FileManager.default.copyItem(atPath: dir + "/itvd.sqlite", toPath: root + "/backup.sqlite")
            #expect(truncate(dir + "/itvd.sqlite", 0) == 0)
            #expect(await refusal(dir)?.kind == .empty)
            try FileManager.default.removeItem(atPath: dir + "/itvd.sqlite")
            try FileManager.default.copyItem(atPath: root + "/backup.sqlite", toPath: dir + "/itvd.sqlite")
            let store = try await SQLiteRolloutStore.open(stateDirectory: dir)
            #expect(try await store.rollouts(includeFinished: true, limit: 5).map(\.id) == [1])
            await store.close()
        }
    }

    /// A healthy store without a marker (deleted, or a store of an itvd from before the marker) is checked,
    /// adopted, and gets its marker (again).
    @Test func aHealthyStoreWithoutAMarkerIsAdopted() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            try await makeStore(dir)
            try FileManager.default.removeItem(atPath: dir + "/itvd.state")
            // As an older itvd left it: no identity in the header.
            let queue = try DatabaseQueue(path: dir + "/itvd.sqlite")
            try await queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA application_id = 0; PRAGMA user_version = 0")
            }
            try queue.close()
            let store = try await SQLiteRolloutStore.open(stateDirectory: dir)
            #expect(store.openReport.markerRepaired)
            #expect(try await store.rollouts(includeFinished: true, limit: 5).map(\.id) == [1])
            await store.close()
            let marker = try #require(try StoreMarker.read(directory: dir))
            let header = try StoreFiles.check(path: dir + "/itvd.sqlite", migrator: StoreSchema.migrator)
            #expect(header.applicationID == 0x6974_7664)
            #expect(marker.storeID == header.storeID && header.storeID > 0)
        }
    }

    /// Deleting a lock file once let a second itvd in. The lock is on the directory now: deleting every
    /// file itvd keeps beside the store changes nothing, and the holder is still named (from /proc/locks).
    @Test func deletingThePidFileDoesNotLetASecondItvdIn() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            let first = try await SQLiteRolloutStore.open(stateDirectory: dir)
            try FileManager.default.removeItem(atPath: dir + "/itvd.pid")
            let refused = await refusal(dir)
            let second = try await expectRefusedWhileHeldThenReopened(dir, first, refused: refused)
            await second.close()
        }
    }

    @Test func theLockHolderIsReadFromProcLocks() {
        let locks = """
            1: POSIX  ADVISORY  WRITE 99 fe:00:5 0 EOF
            2: FLOCK  ADVISORY  WRITE 4242 fe:01:1234 0 EOF
            2: -> FLOCK  ADVISORY  WRITE 4343 fe:01:1234 0 EOF
            """
        // glibc's makedev(0xfe, 0x01).
        let device = dev_t((0xfe << 8) | 0x01)
        #expect(StateDirectoryLock.lockHolderFromProc(device: device, inode: 1234, locks: locks) == 4242)
        #expect(StateDirectoryLock.lockHolderFromProc(device: device, inode: 5, locks: locks) == nil)
    }

    @Test func initStoreSetsAnUnusableStoreAsideAndStartsEmpty() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            try await makeStore(dir)
            let damaged = Data("this is not a database any more".utf8)
            try damaged.write(to: URL(fileURLWithPath: dir + "/itvd.sqlite"))
            let oldMarker = try #require(try StoreMarker.read(directory: dir))
            #expect(await refusal(dir)?.kind == .corrupt)
            let store = try await SQLiteRolloutStore.open(stateDirectory: dir, mode: .initialize)
            #expect(store.openReport.created)
            #expect(try await store.rollouts(includeFinished: true, limit: 5).isEmpty)
            await store.close()
            let aside = store.openReport.setAside.map { ($0 as NSString).lastPathComponent }.sorted()
            #expect(aside.count == 2, "\(aside)")
            #expect(aside.allSatisfy { $0.contains(".set-aside-") })
            let oldDatabase = try #require(store.openReport.setAside.first { $0.contains("itvd.sqlite.") })
            #expect(try Data(contentsOf: URL(fileURLWithPath: oldDatabase)) == damaged)
            let newMarker = try #require(try StoreMarker.read(directory: dir))
            #expect(newMarker.storeID != oldMarker.storeID)
            // The new store is a normal one from now on.
            let again = try await SQLiteRolloutStore.open(stateDirectory: dir)
            await again.close()
        }
    }

    @Test func initStoreRefusesAHealthyStore() async throws {
        try await withTemporaryDirectory { root in
            let dir = root + "/state"
            try await makeStore(dir)
            let before = try snapshot(dir)
            let refused = await refusal(dir, mode: .initialize)
            #expect(refused?.kind == .initRefused)
            #expect(refused?.message.contains("is healthy") == true)
            #expect(try snapshot(dir) == before)
        }
    }
}
