/// A municipality or office whose hosts the cooperative looks after.
///
/// A tenant may name its own people and hours: members of `operators` (Unix groups) may approve, pause,
/// resume, abort, roll back, retry and skip where every host concerned belongs to their tenants; members of
/// `readers` (and of `operators`) see only their tenants' hosts. The global `operators:` and `readers:` of
/// itvd.yaml keep full access. A host of a tenant with `windows` runs only while one of them is open (and the
/// rollout's own window, if it names one).
public struct Tenant: Hashable, Sendable {
    public var id: String
    public var name: String
    /// Unix groups whose members operate this tenant's hosts.
    public var operators: [String]
    /// Unix groups whose members may read this tenant's hosts.
    public var readers: [String]
    /// Patch windows (declared in itvd.yaml) in which this tenant's hosts may be changed; empty: any time the
    /// rollout may run.
    public var windows: [String]
    /// The tenant's own `wake_on_lan` (its hosts' subnet), before the daemon's.
    public var wakeOnLAN: WakeOnLAN?
    /// Where the tenant is declared (nil when it was made up, e.g. Ansible's `default`).
    public var location: SourceLocation?

    public init(
        id: String, name: String, operators: [String] = [], readers: [String] = [], windows: [String] = [],
        location: SourceLocation? = nil, wakeOnLAN: WakeOnLAN? = nil
    ) {
        self.wakeOnLAN = wakeOnLAN
        self.id = id
        self.name = name
        self.operators = operators
        self.readers = readers
        self.windows = windows
        self.location = location
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

    /// The tenants (ids) whose hosts members of `groups` may change (tenant `operators`), and may read
    /// (tenant `readers` and `operators`), sorted. Global groups of itvd.yaml are not considered here.
    public func tenantAccess(groups: [String]) -> (operate: [String], read: [String]) {
        var operate: [String] = []
        var read: [String] = []
        for (id, tenant) in tenants {
            let operates = tenant.operators.contains(where: groups.contains)
            if operates { operate.append(id) }
            if operates || tenant.readers.contains(where: groups.contains) { read.append(id) }
        }
        return (operate.sorted(), read.sorted())
    }

    /// The tenants that list `window` among theirs, sorted.
    public func tenants(servedBy window: String) -> [String] {
        tenants.values.filter { $0.windows.contains(window) }.map(\.id).sorted()
    }

    /// Every group name used by at least one host.
    public var groups: Set<String> { Set(hosts.flatMap(\.groups)) }

    /// The hosts a list of targets (group or host names) selects, in inventory order, each once.
    /// Unknown names select nothing (validation reports them).
    public func hosts(forTargets targets: [String]) -> [Host] {
        let names = Set(targets)
        return hosts.filter { names.contains($0.name) || !names.isDisjoint(with: $0.groups) }
    }
}
