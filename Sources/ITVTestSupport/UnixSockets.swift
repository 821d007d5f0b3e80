import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Calls `body` with `path` as a `sockaddr_un` (nil when the path does not fit in one).
public func withUnixAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T? {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}

public struct UnixSocketError: Error, CustomStringConvertible {
    public var description: String
}

/// A connected `AF_UNIX` socket of `type` (stream unless told) to `path`; the caller closes it.
public func connectUnixSocket(_ path: String, type: Int32 = Int32(SOCK_STREAM.rawValue)) throws -> Int32 {
    let fd = socket(AF_UNIX, type, 0)
    guard fd >= 0 else { throw UnixSocketError(description: "socket: \(String(cString: strerror(errno)))") }
    let rc = withUnixAddress(path) { connect(fd, $0, $1) } ?? -1
    guard rc == 0 else {
        let why = String(cString: strerror(errno))
        close(fd)
        throw UnixSocketError(description: "connect \(path): \(why)")
    }
    return fd
}

/// An `AF_UNIX` socket of `type` (stream unless told) bound to `path`, listening when asked; the caller
/// closes it.
public func bindUnixSocket(
    _ path: String, type: Int32 = Int32(SOCK_STREAM.rawValue), listening: Bool = false, backlog: Int32 = 16
) throws -> Int32 {
    let fd = socket(AF_UNIX, type, 0)
    guard fd >= 0 else { throw UnixSocketError(description: "socket: \(String(cString: strerror(errno)))") }
    let rc = withUnixAddress(path) { bind(fd, $0, $1) } ?? -1
    guard rc == 0, !listening || listen(fd, backlog) == 0 else {
        let why = String(cString: strerror(errno))
        close(fd)
        throw UnixSocketError(description: "bind \(path): \(why)")
    }
    return fd
}
