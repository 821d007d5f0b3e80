import Foundation
import ITVCore

#if canImport(Glibc)
    import Glibc
#endif

/// The port through which the engine sends Wake-on-LAN packets (UDP in production, fakes in tests).
public protocol WakeSender: Sendable {
    /// Sends one magic packet for `mac` (6 bytes) to `address:port`. Returns an error message, or nil.
    func send(mac: [UInt8], to address: String, port: Int) async -> String?
}

/// Sends magic packets as UDP datagrams (broadcast allowed) from an ephemeral port.
public struct UDPWakeSender: WakeSender {
    public init() {}

    public func send(mac: [UInt8], to address: String, port: Int) async -> String? {
        guard mac.count == 6 else { return "a MAC address has 6 bytes, not \(mac.count)" }
        let packet = WakeOnLAN.magicPacket(mac: mac)
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return "socket: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        var on: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, socklen_t(MemoryLayout<Int32>.size))
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = in_port_t(UInt16(clamping: port)).bigEndian
        guard inet_pton(AF_INET, address, &target.sin_addr) == 1 else { return "not an IPv4 address: \(address)" }
        let sent = withUnsafePointer(to: &target) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                packet.withUnsafeBytes {
                    sendto(fd, $0.baseAddress, $0.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard sent == packet.count else { return "sendto \(address):\(port): \(String(cString: strerror(errno)))" }
        return nil
    }
}
