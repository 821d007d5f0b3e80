import Foundation
import ITVEngine

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The exclusive `flock` on the state directory itself that makes one itvd the only user of it.
///
/// The lock is on the directory, not on a file in it: a file can be deleted while it is locked (and a second
/// itvd would then lock a new file of the same name beside the first), but a directory that holds the store
/// cannot be removed, and renaming it moves the store with it. flock locks belong to the open file
/// description, so a second lock in the same process conflicts too, and the kernel releases the lock when
/// the process dies, however it dies: no stale lock after a kill -9.
///
/// The holder's pid is written to `<state dir>/itvd.pid` for the message a second itvd prints; that file
/// decides nothing. When it is gone, the pid is looked up in `/proc/locks` (where readable).
final class StateDirectoryLock {
    static let pidFileName = "itvd.pid"

    let directory: String
    private var fd: Int32

    private init(directory: String, fd: Int32) {
        self.directory = directory
        self.fd = fd
    }

    deinit { release() }

    /// Takes the lock, or throws `locked` naming the holder's pid.
    static func acquire(directory: String) throws -> StateDirectoryLock {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw StoreError(
                kind: .io,
                message: "cannot open the state directory \(directory): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            let holder = holderPID(directoryFD: fd, directory: directory)
            close(fd)
            guard code == EWOULDBLOCK else {
                throw StoreError(
                    kind: .io,
                    message: "cannot lock the state directory \(directory): \(String(cString: strerror(code)))"
                )
            }
            let who = holder.map { "pid \($0)" } ?? "pid unknown"
            throw StoreError(
                kind: .locked, message: "another itvd (\(who)) is using the state directory \(directory)")
        }
        let lock = StateDirectoryLock(directory: directory, fd: fd)
        lock.writePID()
        return lock
    }

    /// Releases the lock (idempotent). The pid file stays; it means nothing without the lock.
    func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    /// Best effort: the lock holds without it, only a second itvd's message would lack the pid.
    private func writePID() {
        let path = directory + "/" + Self.pidFileName
        let text = Array("\(getpid())\n".utf8)
        let file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard file >= 0 else { return }
        _ = text.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
        close(file)
    }

    /// Who holds the lock: the kernel's own record in `/proc/locks` (matched by the directory's device and
    /// inode) when it can be read, else the pid file.
    private static func holderPID(directoryFD: Int32, directory: String) -> Int32? {
        var info = stat()
        if fstat(directoryFD, &info) == 0, let pid = lockHolderFromProc(device: info.st_dev, inode: info.st_ino) {
            return pid
        }
        return pidFromFile(directory + "/" + pidFileName)
    }

    /// `/proc/locks` lines look like `3: FLOCK  ADVISORY  WRITE 1234 08:02:131090 0 EOF` (major:minor:inode in
    /// hexadecimal for the device, decimal for the inode).
    static func lockHolderFromProc(device: dev_t, inode: ino_t, locks: String? = nil) -> Int32? {
        guard let text = locks ?? readProcLocks() else { return nil }
        let major = UInt64(device) >> 8 & 0xfff | (UInt64(device) >> 32 & ~0xfff)
        let minor = UInt64(device) & 0xff | (UInt64(device) >> 12 & ~0xff)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", fields[3] == "WRITE" else { continue }
            let id = fields[5].split(separator: ":")
            guard id.count == 3, UInt64(id[0], radix: 16) == major, UInt64(id[1], radix: 16) == minor,
                UInt64(id[2]) == UInt64(inode)
            else { continue }
            return Int32(fields[4])
        }
        return nil
    }

    /// `/proc/locks` (its size reads as 0, so it is read until the end; at most 4 MiB).
    private static func readProcLocks() -> String? {
        let file = open("/proc/locks", O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { return nil }
        defer { close(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while bytes.count < 4 << 20 {
            let count = chunk.withUnsafeMutableBytes { read(file, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func pidFromFile(_ path: String) -> Int32? {
        let file = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard file >= 0 else { return nil }
        defer { close(file) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { read(file, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Int32(text)
    }
}
