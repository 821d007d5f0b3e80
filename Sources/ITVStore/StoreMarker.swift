import Foundation
import ITVEngine

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `<state dir>/itvd.state`: written once, right after the store was created, so that a later start knows a
/// store existed here. Without it, a database file that was deleted or truncated to 0 bytes looks exactly
/// like a directory that never had one, and itvd would start over with no rollouts and no audit trail.
///
/// It also records the store's identity, a random number that the database carries in its header
/// (`PRAGMA user_version`, beside `PRAGMA application_id` = 'itvd'): a database file swapped for another
/// store's is noticed. A restored backup of the same store carries the same identity.
struct StoreMarker: Hashable {
    static let fileName = "itvd.state"

    /// The store's identity (1...Int32.max); nil when the marker was unreadable and must be repaired.
    var storeID: Int32?
    /// When the store was created (as written in the marker, for messages).
    var created: String?

    /// The marker of a directory: nil when there is none. A marker that exists but cannot be parsed still
    /// says that a store existed (`storeID` nil).
    static func read(directory: String) throws -> StoreMarker? {
        let path = directory + "/" + fileName
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw StoreError(
                kind: .unreadable, message: "cannot read the marker \(path): \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw StoreError(kind: .unreadable, message: "the marker \(path) is not a regular file")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            throw StoreError(
                kind: .unreadable, message: "cannot read the marker \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else {
            throw StoreError(
                kind: .unreadable, message: "cannot read the marker \(path): \(String(cString: strerror(errno)))")
        }
        return parse(String(decoding: buffer[0..<count], as: UTF8.self))
    }

    static func parse(_ text: String) -> StoreMarker {
        var marker = StoreMarker()
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "id": marker.storeID = Int32(value).flatMap { $0 > 0 ? $0 : nil }
            case "created": marker.created = value
            default: break
            }
        }
        return marker
    }

    var text: String {
        """
        # itvd: a state store was created in this directory. Do not delete this file: it is how itvd knows
        # that a missing, empty or replaced itvd.sqlite is a problem, not a new installation.
        # To start over with an empty store on purpose, run `itvd run --init-store` (see README).
        store: itvd.sqlite
        id: \(storeID ?? 0)
        created: \(created ?? "unknown")

        """
    }

    /// Writes the marker durably: a temporary file, fsync, rename, fsync of the directory.
    func write(directory: String) throws {
        let path = directory + "/" + Self.fileName
        let temporary = path + ".new"
        let bytes = Array(text.utf8)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard fd >= 0 else { throw Self.ioError("cannot write the marker \(temporary)") }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced else { throw Self.ioError("cannot write the marker \(temporary)") }
        guard rename(temporary, path) == 0 else { throw Self.ioError("cannot rename \(temporary) to \(path)") }
        try Self.syncDirectory(directory)
    }

    static func syncDirectory(_ directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("cannot open \(directory)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ioError("cannot sync \(directory)") }
    }

    static func ioError(_ what: String) -> StoreError {
        StoreError(kind: .io, message: "\(what): \(String(cString: strerror(errno)))")
    }

    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date())
    }
}
