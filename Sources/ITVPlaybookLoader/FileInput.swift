import Foundation
import ITVCore

#if canImport(Glibc)
    import Glibc
#endif

enum FileInput {
    /// Reads a whole input file, refusing anything that is not a regular file or is too large.
    ///
    /// With `directory`, the file must also resolve (after every symbolic link) to a file inside that
    /// directory: a playbook symlinked to `/etc/shadow` is refused by name, never read, so that no diagnostic
    /// can quote it. The check is made on the file actually opened (`/proc/self/fd`), so that a link swapped
    /// between the check and the read changes nothing.
    static func read(_ path: String, maxBytes: Int = 4 << 20, within directory: String? = nil)
        -> Result<[UInt8], Diagnostic>
    {
        let here = SourceLocation(file: path, line: 1, column: 1)
        // O_NONBLOCK: opening a FIFO put in place of a file must not hang the loader.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else {
            return .failure(Diagnostic(here, "cannot read: \(String(cString: strerror(errno)))"))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            return .failure(Diagnostic(here, "cannot read: \(String(cString: strerror(errno)))"))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return .failure(Diagnostic(here, "not a regular file")) }
        if let directory, let refusal = outside(directory, fd: fd, path: path) {
            return .failure(Diagnostic(here, refusal))
        }
        guard Int(info.st_size) <= maxBytes else {
            return .failure(Diagnostic(here, "file is larger than \(maxBytes >> 20) MiB"))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while bytes.count <= maxBytes {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else {
                return .failure(Diagnostic(here, "cannot read: \(String(cString: strerror(errno)))"))
            }
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        guard bytes.count <= maxBytes else {
            return .failure(Diagnostic(here, "file is larger than \(maxBytes >> 20) MiB"))
        }
        return .success(bytes)
    }

    /// Why the open file is refused as lying outside `directory`, or nil when it is inside.
    private static func outside(_ directory: String, fd: Int32, path: String) -> String? {
        guard let base = realPath(directory) else {
            return "cannot resolve the directory \(directory): \(String(cString: strerror(errno)))"
        }
        guard let target = openedPath(fd) ?? realPath(path) else {
            return "cannot resolve \(path): \(String(cString: strerror(errno)))"
        }
        let prefix = base.hasSuffix("/") ? base : base + "/"
        guard !target.hasPrefix(prefix) else { return nil }
        return "refused: it resolves to \(escapedForMessage(target, limit: 200)), outside the directory "
            + "\(escapedForMessage(base, limit: 200)); itvd reads playbooks only from inside it (a symbolic link "
            + "may point elsewhere within it)"
    }

    /// Where an open descriptor's file is, as the kernel resolved it.
    private static func openedPath(_ fd: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
