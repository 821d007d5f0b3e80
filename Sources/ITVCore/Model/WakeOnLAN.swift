/// `wake_on_lan:` of itvd.yaml or of a tenant in the inventory: where the magic packet goes, and how long
/// before a host's run it is sent.
public struct WakeOnLAN: Hashable, Sendable {
    /// An IPv4 address, usually the hosts' subnet broadcast address (`10.1.255.255`).
    public var address: String
    /// The UDP port (9, "discard", by convention; 7 also common).
    public var port: Int
    /// How long before the run the packet is sent (the time a PC needs to boot).
    public var lead: TimeSpan

    public static let defaultPort = 9
    public static let defaultLead = TimeSpan(seconds: 300)

    public init(address: String, port: Int = defaultPort, lead: TimeSpan = defaultLead) {
        self.address = address
        self.port = port
        self.lead = lead
    }

    /// The magic packet for a MAC address: 6 bytes 0xFF, then the 6 bytes of the MAC 16 times (102 bytes).
    public static func magicPacket(mac: [UInt8]) -> [UInt8] {
        precondition(mac.count == 6, "a MAC address has 6 bytes")
        return [UInt8](repeating: 0xFF, count: 6) + (0..<16).flatMap { _ in mac }
    }
}

/// A 48-bit MAC address, written `52:54:00:12:34:56` (or with `-`).
public enum MACAddress {
    /// The 6 bytes of `text`, or nil when it is not six two-digit hex groups separated by `:` or `-`
    /// (all the same), or is the broadcast or a multicast address (it could not name one host).
    public static func parse(_ text: String) -> [UInt8]? {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count == 17 else { return nil }
        let separator = scalars[2]
        guard separator == ":" || separator == "-" else { return nil }
        var bytes: [UInt8] = []
        for i in 0..<6 {
            let at = i * 3
            if i > 0, scalars[at - 1] != separator { return nil }
            guard let hi = hex(scalars[at]), let lo = hex(scalars[at + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
        }
        guard bytes[0] & 1 == 0 else { return nil }  // multicast (and broadcast) addresses
        return bytes
    }

    /// The canonical form: lowercase, colon-separated.
    public static func canonical(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return bytes.map { String([digits[Int($0 >> 4)], digits[Int($0 & 15)]]) }.joined(separator: ":")
    }

    private static func hex(_ s: Unicode.Scalar) -> UInt8? {
        switch s {
        case "0"..."9": return UInt8(s.value - 48)
        case "a"..."f": return UInt8(s.value - 87)
        case "A"..."F": return UInt8(s.value - 55)
        default: return nil
        }
    }
}

extension LoadedSet {
    /// Where a host's Wake-on-LAN packet goes: its tenant's `wake_on_lan`, else the daemon's; nil when the
    /// host has no MAC address or no `wake_on_lan` applies.
    public func wakeOnLAN(for hostName: String) -> WakeOnLAN? {
        guard let host = inventory.host(named: hostName), host.mac != nil else { return nil }
        return inventory.tenants[host.tenant]?.wakeOnLAN ?? config.wakeOnLAN
    }

    /// The Wake-on-LAN lead (seconds) of each host of a plan that can be woken (frozen into the rollout).
    public func wakeLeads(for plan: RolloutPlan) -> [String: Int64] {
        var leads: [String: Int64] = [:]
        for wave in plan.waves {
            for host in wave.hosts { if let w = wakeOnLAN(for: host) { leads[host] = w.lead.seconds } }
        }
        return leads
    }
}
