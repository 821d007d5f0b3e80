/// A municipality or office whose hosts the cooperative looks after.
public struct Tenant: Hashable, Sendable {
    public var id: String
    public var name: String
    /// The tenant's own `wake_on_lan` (its hosts' subnet), before the daemon's.
    public var wakeOnLAN: WakeOnLAN?

    public init(id: String, name: String, wakeOnLAN: WakeOnLAN? = nil) {
        self.id = id
        self.name = name
        self.wakeOnLAN = wakeOnLAN
    }
}

/// A target machine.
public struct Host: Hashable, Sendable {
    public var name: String
    public var address: String
    public var port: Int
    public var user: String
    public var tenant: String
    public var groups: [String]
    public var os: OSFamily
    public var location: SourceLocation
    /// The MAC address for Wake-on-LAN, canonical (`52:54:00:12:34:56`); nil: the host is not woken.
    public var mac: String?

    public init(
        name: String, address: String, port: Int = 22, user: String = "itv", tenant: String, groups: [String] = [],
        os: OSFamily = .linux, location: SourceLocation, mac: String? = nil
    ) {
        self.mac = mac
        self.name = name
        self.address = address
        self.port = port
        self.user = user
        self.tenant = tenant
        self.groups = groups
        self.os = os
        self.location = location
    }
}

/// Hosts, groups and tenants. Host order is the order of the file (kept stable for planning).
public struct Inventory: Hashable, Sendable {
    public var tenants: [String: Tenant]
    public var hosts: [Host] { didSet { byName = Self.index(hosts) } }
    /// Position of each host by name (the first, when a name is repeated): `host(named:)` in constant time,
    /// which validation, planning and dispatch call once per host.
    private var byName: [String: Int]

    public init(tenants: [String: Tenant] = [:], hosts: [Host] = []) {
        self.tenants = tenants
        self.hosts = hosts
        byName = Self.index(hosts)
    }

    private static func index(_ hosts: [Host]) -> [String: Int] {
        var index: [String: Int] = [:]
        index.reserveCapacity(hosts.count)
        for (i, host) in hosts.enumerated() where index[host.name] == nil { index[host.name] = i }
        return index
    }

    public static func == (a: Inventory, b: Inventory) -> Bool { a.tenants == b.tenants && a.hosts == b.hosts }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(tenants)
        hasher.combine(hosts)
    }

    public func host(named name: String) -> Host? { byName[name].map { hosts[$0] } }

    /// Every group name used by at least one host.
    public var groups: Set<String> { Set(hosts.flatMap(\.groups)) }

    /// The hosts a list of targets (group or host names) selects, in inventory order, each once.
    /// Unknown names select nothing (validation reports them).
    public func hosts(forTargets targets: [String]) -> [Host] {
        let names = Set(targets)
        return hosts.filter { names.contains($0.name) || !names.isDisjoint(with: $0.groups) }
    }
}
