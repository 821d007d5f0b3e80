import CITVShim
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Why the control socket cannot be set up.
public struct ControlServerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stable: `socket_in_use` (a live itvd listens there), `socket_path` (unusable path), `socket` (a
    /// system call failed), `activation` (a bad LISTEN_FDS).
    public var kind: String
    public var message: String

    public init(kind: String, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Creating the listening Unix socket, or taking the one systemd passed.
enum ListeningSocket {
    /// The listening socket systemd passed by socket activation, when `LISTEN_PID` is this process and
    /// `LISTEN_FDS` is at least 1; nil otherwise.
    static func fromActivation(environment: [String: String], firstFD activationFD: Int32) throws -> Int32? {
        guard let pidText = environment["LISTEN_PID"], let fdsText = environment["LISTEN_FDS"] else { return nil }
        guard let pid = Int32(pidText), pid == getpid() else { return nil }
        guard let count = Int(fdsText), count >= 1 else {
            throw ControlServerError(kind: "activation", message: "LISTEN_FDS is '\(fdsText)', expected a number >= 1")
        }
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(activationFD, SOL_SOCKET, SO_TYPE, &type, &length) == 0, type == Int32(SOCK_STREAM.rawValue)
        else {
            throw ControlServerError(
                kind: "activation", message: "the socket passed by systemd (fd 3) is not a stream socket")
        }
        _ = fcntl(activationFD, F_SETFD, FD_CLOEXEC)
        return activationFD
    }

    /// Binds and listens at `path` without a race: the socket is made in a private (0700) directory beside
    /// `path`, given mode 0660 and `group`, and renamed over `path`. A socket at `path` that refuses
    /// connections (its daemon died) is replaced; one that accepts connections is refused.
    static func bind(path: String, group: gid_t?, backlog: Int32) throws -> (fd: Int32, inode: UInt64, grouped: Bool) {
        let directory =
            (path as NSString).deletingLastPathComponent.isEmpty
            ? "." : (path as NSString).deletingLastPathComponent
        try refuseLiveSocket(at: path)
        if access(directory, F_OK) != 0, mkdir(directory, 0o755) != 0 {
            throw ControlServerError(
                kind: "socket_path", message: "cannot create socket directory \(directory): \(errnoText())")
        }
        var template = Array((directory + "/.itvd-sock.XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ControlServerError(
                kind: "socket_path", message: "cannot create a private directory in \(directory): \(errnoText())")
        }
        let privateDirectory = String(cString: made)
        defer { rmdir(privateDirectory) }
        let temporary = privateDirectory + "/sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlServerError(kind: "socket", message: "socket(): \(errnoText())") }
        do {
            try withAddress(temporary) { address, length in
                guard Glibc.bind(fd, address, length) == 0 else {
                    throw ControlServerError(kind: "socket", message: "cannot bind \(temporary): \(errnoText())")
                }
            }
            guard chmod(temporary, 0o660) == 0 else {
                throw ControlServerError(kind: "socket", message: "cannot chmod \(temporary): \(errnoText())")
            }
            // Not fatal: a daemon run by hand by a user outside the group keeps its own group (still 0660).
            let grouped = group.map { chown(temporary, uid_t.max, $0) == 0 } ?? false
            guard listen(fd, backlog) == 0 else {
                throw ControlServerError(kind: "socket", message: "listen(): \(errnoText())")
            }
            // Checked again right before the rename: a daemon that started meanwhile is not replaced.
            try refuseLiveSocket(at: path)
            guard rename(temporary, path) == 0 else {
                throw ControlServerError(
                    kind: "socket_path", message: "cannot move the socket to \(path): \(errnoText())")
            }
            var info = stat()
            let inode = lstat(path, &info) == 0 ? UInt64(info.st_ino) : 0
            return (fd, inode, grouped)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
    }

    /// Removes the socket file at `path` if it is still the one this server made.
    static func remove(path: String, inode: UInt64) {
        var info = stat()
        if inode != 0, lstat(path, &info) == 0, UInt64(info.st_ino) == inode { unlink(path) }
    }

    /// Throws when `path` exists and is not a socket, or is a socket someone listens on.
    private static func refuseLiveSocket(at path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw ControlServerError(
                kind: "socket_path", message: "\(path) exists and is not a socket; remove it or choose another path")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { throw ControlServerError(kind: "socket", message: "socket(): \(errnoText())") }
        defer { close(probe) }
        var connectError: Int32 = 0
        try withAddress(path) { address, length in
            connectError = connect(probe, address, length) == 0 ? 0 : errno
        }
        switch connectError {
        case 0:
            throw ControlServerError(
                kind: "socket_in_use",
                message: "another itvd is listening on \(path); stop it first (systemctl stop itvd)")
        case ECONNREFUSED:
            return  // a stale socket of a dead daemon: replaced by the rename
        default:
            throw ControlServerError(
                kind: "socket_path",
                message: "cannot tell whether \(path) is in use: \(String(cString: strerror(connectError)))")
        }
    }

    private static func withAddress(
        _ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Void
    ) throws {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            throw ControlServerError(
                kind: "socket_path", message: "socket path \(path) is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in try body(sa, length) }
        }
    }
}

func errnoText() -> String { String(cString: strerror(errno)) }
