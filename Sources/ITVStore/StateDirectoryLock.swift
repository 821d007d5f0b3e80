import Foundation
import ITVEngine

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The exclusive `flock` on `<state dir>/itvd.lock` that makes one itvd the only user of a state directory.
///
/// flock locks belong to the open file description, so a second lock in the same process conflicts too, and
/// the kernel releases the lock when the process dies, however it dies: no stale lock after a kill -9. The
/// pid in the file is for the message a second itvd prints; the lock, not the file's content, decides.
final class StateDirectoryLock {
    let path: String
    private var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { release() }

    /// Takes the lock, or throws `locked` naming the holder's pid.
    static func acquire(directory: String) throws -> StateDirectoryLock {
        let path = directory + "/itvd.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw StoreError(
                kind: "io", message: "cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            let holder = readPID(fd: fd)
            close(fd)
            guard code == EWOULDBLOCK else {
                throw StoreError(kind: "io", message: "cannot lock \(path): \(String(cString: strerror(code)))")
            }
            let who = holder.map { "pid \($0)" } ?? "pid unknown"
            throw StoreError(
                kind: "locked", message: "another itvd (\(who)) is using the state directory \(directory)")
        }
        let lock = StateDirectoryLock(path: path, fd: fd)
        try lock.writePID()
        return lock
    }

    /// Releases the lock (idempotent). The pid stays in the file; it means nothing without the lock.
    func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    private func writePID() throws {
        let text = Array("\(getpid())\n".utf8)
        let written = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard written == text.count, ftruncate(fd, off_t(text.count)) == 0 else {
            let reason = String(cString: strerror(errno))
            release()
            throw StoreError(kind: "io", message: "cannot write the pid into the lock file \(path): \(reason)")
        }
    }

    private static func readPID(fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Int32(text)
    }
}
