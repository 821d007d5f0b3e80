import Foundation
import GRDB
import ITVCore
import ITVEngine

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How `SQLiteRolloutStore.open` treats what it finds in the state directory.
public enum StoreOpenMode: Sendable {
    /// Use the store that is there, or create one in a directory that never had one. A store that existed
    /// (the marker says so) and is now missing, empty, damaged or replaced is refused, never written over.
    case existing
    /// `itvd run --init-store`: the operator starts over on purpose. An unusable store (and its marker, WAL
    /// and shared-memory files) is renamed aside (`*.set-aside-<time>`), never deleted, and an empty store is
    /// created. A healthy store is refused: nobody discards one by accident.
    case initialize
}

/// What opening the state directory found and did, for the journal.
public struct StoreOpenReport: Sendable {
    /// Files renamed aside by `--init-store` (full paths, as they are named now).
    public var setAside: [String] = []
    /// A new, empty store was created.
    public var created = false
    /// The marker was missing or unreadable and was (re)written from the healthy store.
    public var markerRepaired = false
}

/// The decisions of `open`, before a connection writes anything: is there a store, did one exist, is it
/// the one that existed, is it healthy.
enum StoreOpening {
    static let databaseName = "itvd.sqlite"
    /// Files SQLite keeps beside the database; any of them is a sign that a database existed.
    static let sidecarSuffixes = ["-wal", "-shm", "-journal"]

    static func open(directory: String, mode: StoreOpenMode, migrator: DatabaseMigrator) throws
        -> (DatabaseQueue, StoreOpenReport)
    {
        var report = StoreOpenReport()
        let path = directory + "/" + databaseName
        switch mode {
        case .existing:
            return try openExisting(directory: directory, path: path, migrator: migrator, report: &report)
        case .initialize:
            do {
                let (queue, _) = try openExisting(
                    directory: directory, path: path, migrator: migrator, report: &report, mayCreate: false)
                try? queue.close()
                throw StoreError(
                    kind: .initRefused,
                    message: "--init-store: the state store \(path) is healthy; itvd does not discard a "
                        + "healthy store. Start without --init-store, or move the store away yourself if you "
                        + "really mean to start over")
            } catch let error as StoreError where setAsideKinds.contains(error.kind) {
                report.setAside = try setAside(directory: directory)
            }
            return try openExisting(directory: directory, path: path, migrator: migrator, report: &report)
        }
    }

    /// The refusals `--init-store` resolves by setting the files aside. Not `locked`, `io` (nothing is wrong
    /// with the store) or `too_new` (it is healthy, for a newer itvd).
    static let setAsideKinds: Set<ITVErrorKind> = [.missing, .empty, .corrupt, .unreadable, .replaced, .new]

    private static func openExisting(
        directory: String, path: String, migrator: DatabaseMigrator, report: inout StoreOpenReport,
        mayCreate: Bool = true
    ) throws -> (DatabaseQueue, StoreOpenReport) {
        let marker = try StoreMarker.read(directory: directory)
        let markerPath = directory + "/" + StoreMarker.fileName
        let existed =
            marker.map { " but \(markerPath) says that a store was created here (\($0.created ?? "?"))" } ?? ""
        let fresh =
            "itvd does not start over on its own: restore \(databaseName) from a backup, or start with an "
            + "empty store on purpose (itvd run --init-store)"
        var info = stat()
        guard lstat(path, &info) == 0 else {
            guard errno == ENOENT else {
                throw StoreError(
                    kind: .unreadable,
                    message: "cannot look at the state store \(path): \(String(cString: strerror(errno)))")
            }
            if let sidecar = sidecarSuffixes.map({ path + $0 }).first(where: { access($0, F_OK) == 0 }) {
                throw StoreError(
                    kind: .missing,
                    message: "the state store \(path) is missing, but \(sidecar) is there: a store existed; "
                        + fresh)
            }
            if marker != nil {
                throw StoreError(kind: .missing, message: "the state store \(path) is missing\(existed); " + fresh)
            }
            guard mayCreate else {
                throw StoreError(kind: .new, message: "the state directory \(directory) has no store yet")
            }
            let storeID = try create(directory: directory, path: path, migrator: migrator)
            try StoreMarker(storeID: storeID, created: StoreMarker.now()).write(directory: directory)
            report.created = true
            return (try openChecked(path: path, migrator: migrator), report)
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            break
        case S_IFDIR:
            throw StoreError(
                kind: .unreadable, message: "the state store \(path) is a directory, not a database file; " + fresh)
        case S_IFLNK:
            throw StoreError(
                kind: .unreadable,
                message: "the state store \(path) is a symbolic link; itvd opens only a regular file in its "
                    + "state directory")
        default:
            throw StoreError(kind: .unreadable, message: "the state store \(path) is not a regular file; " + fresh)
        }
        if info.st_nlink > 1 {
            throw StoreError(
                kind: .unreadable,
                message: "the state store \(path) has \(info.st_nlink) hard links: another state directory may "
                    + "share it, and two itvd would then write one store; itvd does not use it: copy it instead")
        }
        if info.st_size == 0 {
            throw StoreError(kind: .empty, message: "the state store \(path) is empty (0 bytes)\(existed); " + fresh)
        }
        let probe = Glibc.open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard probe >= 0 else {
            throw StoreError(
                kind: .unreadable,
                message: "cannot open the state store \(path) for reading and writing: "
                    + "\(String(cString: strerror(errno))) (itvd runs as uid \(geteuid())); itvd does not touch it")
        }
        close(probe)
        let header = try StoreFiles.check(path: path, migrator: migrator)
        if let marker, let expected = marker.storeID, expected != header.storeID {
            throw StoreError(
                kind: .replaced,
                message: "the state store \(path) is not the store that was created here: \(markerPath) records "
                    + "store id \(expected) (created \(marker.created ?? "?")), the file carries "
                    + (header.storeID == 0 ? "none" : "id \(header.storeID)")
                    + "; itvd does not use it: put the right file back, or start with an empty store on purpose "
                    + "(itvd run --init-store)")
        }
        let queue = try StoreFiles.openReadWrite(path: path, migrator: migrator)
        if marker?.storeID == nil {
            // A store of an itvd from before the marker, or a marker that was deleted or damaged: the store
            // passed every check, so it is adopted and the marker written (again).
            let storeID = try adopt(queue, header: header, path: path)
            try StoreMarker(storeID: storeID, created: marker?.created ?? StoreMarker.now()).write(directory: directory)
            report.markerRepaired = true
        }
        return (queue, report)
    }

    /// Creates an empty store: built under a temporary name and renamed into place once complete, so that a
    /// crash in the middle never leaves a half-made `itvd.sqlite` that a later start could take for a store.
    private static func create(directory: String, path: String, migrator: DatabaseMigrator) throws -> Int32 {
        let temporary = path + ".creating"
        for name in [temporary] + sidecarSuffixes.map({ temporary + $0 }) { unlink(name) }
        let storeID = Int32.random(in: 1...Int32.max)
        do {
            let queue = try StoreFiles.openReadWrite(path: temporary, migrator: migrator)
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA application_id = \(StoreFiles.applicationID)")
                try db.execute(sql: "PRAGMA user_version = \(storeID)")
            }
            try queue.close()
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(kind: .io, message: "cannot create the state store \(temporary): \(error)")
        }
        let fd = Glibc.open(temporary, O_RDWR | O_CLOEXEC)
        guard fd >= 0, fsync(fd) == 0 else {
            if fd >= 0 { close(fd) }
            throw StoreMarker.ioError("cannot sync the new state store \(temporary)")
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw StoreMarker.ioError("cannot rename \(temporary) to \(path)") }
        try StoreMarker.syncDirectory(directory)
        return storeID
    }

    private static func openChecked(path: String, migrator: DatabaseMigrator) throws -> DatabaseQueue {
        _ = try StoreFiles.check(path: path, migrator: migrator)
        return try StoreFiles.openReadWrite(path: path, migrator: migrator)
    }

    /// Gives a healthy store without an identity one; returns the store's identity.
    private static func adopt(_ queue: DatabaseQueue, header: StoreFiles.Header, path: String) throws -> Int32 {
        if header.applicationID == StoreFiles.applicationID, header.storeID > 0 { return header.storeID }
        let storeID = Int32.random(in: 1...Int32.max)
        do {
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA application_id = \(StoreFiles.applicationID)")
                try db.execute(sql: "PRAGMA user_version = \(storeID)")
            }
        } catch {
            throw StoreError(kind: .io, message: "cannot record the identity of the state store \(path): \(error)")
        }
        return storeID
    }

    /// Renames the database, its sidecars and the marker to `<name>.set-aside-<UTC time>`; returns the new names.
    private static func setAside(directory: String) throws -> [String] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let suffix = ".set-aside-" + formatter.string(from: Date())
        var moved: [String] = []
        let names = [databaseName] + sidecarSuffixes.map { databaseName + $0 } + [StoreMarker.fileName]
        for name in names {
            let from = directory + "/" + name
            var info = stat()
            guard lstat(from, &info) == 0 else { continue }
            let to = from + suffix
            guard access(to, F_OK) != 0 else {
                throw StoreError(kind: .io, message: "cannot set \(from) aside: \(to) exists already")
            }
            guard rename(from, to) == 0 else { throw StoreMarker.ioError("cannot rename \(from) to \(to)") }
            moved.append(to)
        }
        try StoreMarker.syncDirectory(directory)
        return moved
    }
}
