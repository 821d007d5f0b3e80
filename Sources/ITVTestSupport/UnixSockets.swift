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

/// Makes `fd` non-blocking and has the kernel attach each sender's credentials to what it receives
/// (SO_PASSCRED, as systemd's NotifyAccess=main checks them).
public func receiveCredentials(_ fd: Int32) {
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    var enable: Int32 = 1
    _ = setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &enable, socklen_t(MemoryLayout<Int32>.size))
}

/// Every datagram waiting now on the non-blocking socket `fd` (see `receiveCredentials`), with its sender's PID
/// (nil when no credentials came with it), in order.
public func receiveDatagrams(_ fd: Int32) -> [(pid: pid_t?, message: String)] {
    var messages: [(pid: pid_t?, message: String)] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    var control = [UInt8](repeating: 0, count: 256)
    while true {
        let (count, sender) = buffer.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { control in
                var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var message = msghdr()
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = control.baseAddress
                    message.msg_controllen = control.count
                    let count = recvmsg(fd, &message, 0)
                    return (count, senderPID(control, length: message.msg_controllen))
                }
            }
        }
        if count <= 0 { return messages }
        messages.append((sender, String(decoding: buffer[0..<count], as: UTF8.self)))
    }
}

/// The pid of an SCM_CREDENTIALS control message (`struct cmsghdr` then `struct ucred`, which Swift's Glibc
/// does not declare).
func senderPID(_ control: UnsafeMutableRawBufferPointer, length: Int) -> pid_t? {
    let scmCredentials: Int32 = 2
    let headerSize = MemoryLayout<Int>.size + 2 * MemoryLayout<Int32>.size
    var offset = 0
    while offset + headerSize + MemoryLayout<pid_t>.size <= length {
        let cmsgLength = control.load(fromByteOffset: offset, as: Int.self)
        let level = control.load(fromByteOffset: offset + MemoryLayout<Int>.size, as: Int32.self)
        let type = control.load(fromByteOffset: offset + MemoryLayout<Int>.size + 4, as: Int32.self)
        if level == SOL_SOCKET && type == scmCredentials {
            return control.load(fromByteOffset: offset + headerSize, as: pid_t.self)
        }
        guard cmsgLength > 0 else { return nil }
        offset += (cmsgLength + 7) & ~7
    }
    return nil
}
