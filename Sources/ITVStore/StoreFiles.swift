import Foundation
import GRDB
import ITVCore
import ITVEngine

/// Opening the database file: a read-only health check of an existing file, then the read-write
/// connection. Nothing is written to a file that has not passed the check.
enum StoreFiles {
    static func createDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw StoreError(
                    kind: .io, message: "cannot use \(path) as the state directory: it is not a directory")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        } catch {
            throw StoreError(kind: .io, message: "cannot create the state directory \(path): \(error)")
        }
    }

    /// `'itvd'`: `PRAGMA application_id` of every store this itvd creates or adopts.
    static let applicationID: Int32 = 0x6974_7664

    /// What the header of a database that passed `check` says about it.
    struct Header: Hashable {
        /// `PRAGMA application_id`: 0 for a store of an itvd before the marker, else `applicationID`.
        var applicationID: Int32
        /// `PRAGMA user_version`: the store's identity (see `StoreMarker`); 0 when it has none yet.
        var storeID: Int32
    }

    /// Checks an existing database through a read-only connection (which can neither repair nor rewrite
    /// the file): `PRAGMA integrity_check` must say `ok`, the file must hold itvd's schema, and every
    /// applied migration must be known.
    static func check(path: String, migrator: DatabaseMigrator) throws -> Header {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        config.label = "itvd.store.check"
        return try storeErrors(path: path, otherwise: .unreadable, "cannot read the state store") {
            let queue = try DatabaseQueue(path: path, configuration: config)
            defer { try? queue.close() }
            return try queue.read { db in
                let report = try integrityReport(db)
                guard report == ["ok"] else {
                    throw StoreError(
                        kind: .corrupt,
                        message: "the state store \(path) is corrupt (integrity check: "
                            + report.prefix(5).joined(separator: "; ") + "); itvd does not repair it: "
                            + "restore it from a backup or move it away")
                }
                let header = Header(
                    applicationID: try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0,
                    storeID: try Int32.fetchOne(db, sql: "PRAGMA user_version") ?? 0)
                if header.applicationID != 0, header.applicationID != applicationID {
                    throw StoreError(
                        kind: .unreadable,
                        message: "the state store \(path) is a SQLite database of another application "
                            + "(application_id \(String(header.applicationID, radix: 16))); itvd does not touch it: "
                            + "move it away or use another state directory")
                }
                let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
                if tables.isEmpty {
                    throw StoreError(
                        kind: .empty,
                        message: "the state store \(path) is a SQLite database without any table: it holds no "
                            + "itvd store; itvd does not write over it: restore it from a backup, or start with "
                            + "an empty store on purpose (itvd run --init-store)")
                }
                if !tables.contains("grdb_migrations") {
                    throw StoreError(
                        kind: .unreadable,
                        message: "the state store \(path) is a SQLite database of something else (tables: "
                            + tables.prefix(5).joined(separator: ", ") + "); itvd does not touch it: "
                            + "move it away or use another state directory")
                }
                if try migrator.hasBeenSuperseded(db) {
                    let unknown = try migrator.appliedIdentifiers(db).subtracting(migrator.migrations).sorted()
                    throw StoreError(
                        kind: .tooNew,
                        message: "the state store \(path) was written by a newer itvd (unknown migrations: "
                            + unknown.joined(separator: ", ") + "); run that itvd, or restore a backup")
                }
                return header
            }
        }
    }

    /// `body`, with what it throws as a `StoreError`: its own as they are, SQLite's through `openFailure`,
    /// anything else as `kind`, "`what` PATH: error".
    private static func storeErrors<T>(
        path: String, otherwise kind: ITVErrorKind, _ what: String, _ body: () throws -> T
    ) throws -> T {
        do {
            return try body()
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw openFailure(path: path, error)
        } catch {
            throw StoreError(kind: kind, message: "\(what) \(path): \(error)")
        }
    }

    /// The rows of `PRAGMA integrity_check`. SQLite may report a problem and then fail with SQLITE_CORRUPT
    /// while stepping on: the rows read so far are kept, so that the message names the damaged pages.
    private static func integrityReport(_ db: Database) throws -> [String] {
        var report: [String] = []
        let cursor = try String.fetchCursor(db, sql: "PRAGMA integrity_check(10)")
        do {
            while let line = try cursor.next() { report.append(line) }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CORRUPT && !report.isEmpty {
            report.append(error.message ?? "database disk image is malformed")
        }
        return report
    }

    /// The read-write connection: WAL, `synchronous=FULL` (a commit is on disk when it returns), foreign
    /// keys, a busy timeout, migrated to this binary's schema.
    ///
    /// GRDB's own `journalMode = .wal` setting also sets `synchronous=NORMAL`, which may lose the last
    /// commits on power loss; the pragmas are therefore set here, in this order.
    static func openReadWrite(path: String, migrator: DatabaseMigrator) throws -> DatabaseQueue {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.label = "itvd.store"
        return try storeErrors(path: path, otherwise: .io, "cannot open the state store") {
            let queue = try DatabaseQueue(path: path, configuration: config)
            try queue.writeWithoutTransaction { db in
                let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                guard mode == "wal" else {
                    throw StoreError(
                        kind: .io, message: "cannot put the state store \(path) in WAL mode (it stays \(mode ?? "?"))")
                }
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            try migrator.migrate(queue)
            return queue
        }
    }

    private static func openFailure(path: String, _ error: DatabaseError) -> StoreError {
        switch error.resultCode {
        case .SQLITE_NOTADB:
            return StoreError(
                kind: .corrupt,
                message: "the state store \(path) is not a SQLite database; itvd does not overwrite it: "
                    + "restore it from a backup or move it away")
        case .SQLITE_CORRUPT:
            return StoreError(
                kind: .corrupt,
                message: "the state store \(path) is corrupt (\(error.message ?? "malformed")); itvd does not "
                    + "repair it: restore it from a backup or move it away")
        default:
            return StoreError(
                kind: .unreadable,
                message: "cannot open the state store \(path): \(error.message ?? "\(error.resultCode)")")
        }
    }
}
