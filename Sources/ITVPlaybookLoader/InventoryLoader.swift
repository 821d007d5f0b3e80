import Foundation
import ITVCore

/// Reads the inventory: our format (`defaults`, `tenants`, `hosts`, `ldap`) or an Ansible YAML inventory
/// (`all:` with `hosts`, `children`, `vars`). The hosts of `ldap:` sources are read from their directories
/// here, blocking: callers load off the daemon's actor (a reload runs on a thread of its own).
public enum InventoryLoader {
    static let topKeys = ["defaults", "tenants", "hosts", "ldap"]
    static let defaultKeys = ["user", "port", "os"]
    static let hostKeys = ["address", "tenant", "groups", "os", "port", "user", "mac"]
    static let tenantKeys = ["name", "operators", "readers", "windows", "wake_on_lan"]

    /// With a `cache`, an `ldap:` source whose directory cannot be reached gives the hosts read from it last
    /// (`DirectoryCache`), and the fresh reads come back in `directoryReads`.
    public static func load(file: String, cache: DirectoryCache? = nil) -> Loaded<Inventory> {
        switch FileInput.read(file) {
        case .success(let bytes): return parse(bytes, file: file, cache: cache)
        case .failure(let d): return Loaded(value: nil, diagnostics: [d])
        }
    }

    public static func parse(_ bytes: [UInt8], file: String, cache: DirectoryCache? = nil) -> Loaded<Inventory> {
        let root: YNode
        switch YAMLComposer.compose(bytes, file: file, limits: .inventory) {
        case .success(let node): root = node
        case .failure(let d): return Loaded(value: nil, diagnostics: [d])
        }
        let r = YAMLReader()
        var inventory: Inventory?
        var sources: [DirectorySource] = []
        if case .mapping(let entries, _) = root,
            entries.contains(where: {
                if case .scalar(let k) = $0.key { return k.value == "all" } else { return false }
            })
        {
            inventory = AnsibleInventoryReader(r: r).read(root)
        } else {
            let base = ((file as NSString).deletingLastPathComponent as NSString).standardizingPath
            inventory = read(root, r, base: base.isEmpty ? "." : base, sources: &sources)
        }
        // The directories are asked only about a file without problems: a broken file is refused as it is.
        var reads: [DirectoryRead] = []
        var warnings: [Diagnostic] = []
        if let yaml = inventory, !sources.isEmpty, r.problems == 0 {
            (inventory, reads, warnings) = DirectorySourceLoader.combine(yaml, sources, file: file, r, cache: cache)
        }
        if let inventory { check(inventory, r) }
        var loaded = Loaded(value: r.diagnostics.isEmpty ? inventory : nil, diagnostics: r.diagnostics)
        if loaded.value != nil {
            loaded.warnings = warnings
            loaded.directoryReads = reads
        }
        return loaded
    }

    private static func read(_ root: YNode, _ r: YAMLReader, base: String, sources: inout [DirectorySource])
        -> Inventory?
    {
        guard let f = r.mapping(root, "the inventory", known: topKeys) else { return nil }
        var user = "itv"
        var port = 22
        var os = OSFamily.linux
        if let n = f["defaults"], let d = r.mapping(n, "defaults", known: defaultKeys) {
            if let u = d["user"].flatMap({ r.string($0, "defaults.user") }) { user = u }
            if let p = d["port"].flatMap({ r.int($0, "defaults.port", range: 1...65_535) }) { port = p }
            if let o = d["os"].flatMap({ r.enumValue($0, "defaults.os", OSFamily.self) }) { os = o }
        }
        var tenants: [String: Tenant] = [:]
        if let n = f["tenants"] {
            for (id, location, value) in r.namedEntries(n, "tenants") {
                guard isValidName(id) else {
                    r.error(location, "tenant id '\(escapedForMessage(id))' must use letters, digits, '.', '_' and '-'")
                    continue
                }
                tenants[id] = readTenant(id, location, value, r)
            }
        } else {
            r.error(f.location, "missing key 'tenants': every host belongs to a tenant (municipality)")
        }
        var hosts: [ITVCore.Host] = []
        if let n = f["ldap"] {
            sources = DirectorySourceLoader.read(n, r, base: base, tenants: tenants, user: user, port: port, os: os)
        }
        guard let hostsNode = f["hosts"] else {
            // Hosts come from the file, the directory, or both.
            if f["ldap"] != nil { return Inventory(tenants: tenants, hosts: []) }
            r.error(f.location, "missing key 'hosts' in the inventory (or an ldap: source)")
            return nil
        }
        for (name, location, value) in r.namedEntries(hostsNode, "hosts") {
            guard let h = r.mapping(value, "host '\(escapedForMessage(name))'", known: hostKeys) else { continue }
            let address = PlaybookLoader.required(h, "address", r, in: "host '\(escapedForMessage(name))'").flatMap {
                r.string($0, "host '\(escapedForMessage(name))' address")
            }
            let tenant = PlaybookLoader.required(h, "tenant", r, in: "host '\(escapedForMessage(name))'").flatMap {
                node -> String? in
                guard let t = r.string(node, "host '\(escapedForMessage(name))' tenant") else { return nil }
                if tenants[t] == nil {
                    r.error(
                        node.location,
                        "host '\(escapedForMessage(name))': unknown tenant '\(escapedForMessage(t))'"
                            + Suggest.didYouMean(t, Array(tenants.keys)))
                }
                return t
            }
            let groups = h["groups"].flatMap { r.stringList($0, "host '\(escapedForMessage(name))' groups") } ?? []
            let hostOS =
                h["os"].flatMap { r.enumValue($0, "host '\(escapedForMessage(name))' os", OSFamily.self) } ?? os
            let hostPort =
                h["port"].flatMap { r.int($0, "host '\(escapedForMessage(name))' port", range: 1...65_535) } ?? port
            let hostUser = h["user"].flatMap { r.string($0, "host '\(escapedForMessage(name))' user") } ?? user
            let mac = h["mac"].flatMap { readMAC($0, r, "host '\(escapedForMessage(name))' mac") }
            guard let address, let tenant else { continue }
            hosts.append(
                ITVCore.Host(
                    name: name, address: address, port: hostPort, user: hostUser, tenant: tenant,
                    groups: groups.map(\.value), os: hostOS, location: location, mac: mac))
            for g in groups where !isValidName(g.value) {
                r.error(
                    g.location, "group name '\(escapedForMessage(g.value))' must use letters, digits, '.', '_' and '-'")
            }
        }
        return Inventory(tenants: tenants, hosts: hosts)
    }

    /// One entry of `tenants:`: its display name, its own operators and readers (Unix groups) and windows.
    private static func readTenant(_ id: String, _ location: SourceLocation, _ value: YNode, _ r: YAMLReader)
        -> Tenant?
    {
        let what = "tenant '\(escapedForMessage(id))'"
        guard let t = r.mapping(value, what, known: tenantKeys) else { return nil }
        let name = t["name"].flatMap { r.string($0, "\(what) name") } ?? id
        func names(_ key: String, _ kind: String) -> [String] {
            guard let list = t[key].flatMap({ r.stringList($0, "\(what) \(key)") }) else { return [] }
            for item in list where !isValidName(item.value) {
                r.error(
                    item.location,
                    "\(what) \(key): \(kind) name '\(escapedForMessage(item.value))' must use letters, digits, '.', "
                        + "'_' and '-'")
            }
            var seen = Set<String>()
            return list.map(\.value).filter { seen.insert($0).inserted }
        }
        return Tenant(
            id: id, name: name, operators: names("operators", "group"), readers: names("readers", "group"),
            windows: names("windows", "window"), location: location,
            wakeOnLAN: t["wake_on_lan"].flatMap { ConfigLoader.readWakeOnLAN($0, r, "\(what) wake_on_lan") })
    }

    /// Checks that hold for both formats: names, addresses, users, and that no group shadows a host.
    static func check(_ inventory: Inventory, _ r: YAMLReader) {
        var seen: [String: SourceLocation] = [:]
        for host in inventory.hosts {
            if let first = seen[host.name] {
                r.error(
                    host.location,
                    "host '\(escapedForMessage(host.name))' is defined twice (first at line \(first.line))")
            }
            seen[host.name] = host.location
            if !isValidName(host.name) {
                r.error(
                    host.location,
                    "host name '\(escapedForMessage(host.name))' must use letters, digits, '.', '_' and '-'")
            }
            if !isValidAddress(host.address) {
                r.error(
                    host.location,
                    "host '\(escapedForMessage(host.name))': address '\(escapedForMessage(host.address))' is not an IP "
                        + "address or DNS name")
            }
            if !isValidName(host.user) {
                r.error(
                    host.location,
                    "host '\(escapedForMessage(host.name))': user '\(escapedForMessage(host.user))' is not a valid user name"
                )
            }
        }
        let groups = inventory.groups
        for host in inventory.hosts where groups.contains(host.name) {
            r.error(
                host.location,
                "'\(escapedForMessage(host.name))' is both a host and a group name; targets could not tell them apart")
        }
    }

    /// `mac: "52:54:00:12:34:56"` (or `-` separated), in canonical form; an error where it is invalid.
    static func readMAC(_ node: YNode, _ r: YAMLReader, _ what: String) -> String? {
        guard let text = r.string(node, what) else { return nil }
        guard let bytes = MACAddress.parse(text) else {
            r.error(
                node.location,
                "\(what) '\(escapedForMessage(text))' is not a MAC address: six two-digit hex groups separated by "
                    + "':' or '-', e.g. 52:54:00:12:34:56 (not a multicast or broadcast address)")
            return nil
        }
        return MACAddress.canonical(bytes)
    }

    static func isValidName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, s.unicodeScalars.count <= 253, first != "-", first != "." else {
            return false
        }
        return s.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || $0 == "-" || $0 == "_" || $0 == "."
        }
    }

    /// An IPv4/IPv6 literal or a DNS name: nothing a shell or ssh option parser could misread.
    static func isValidAddress(_ s: String) -> Bool {
        guard !s.isEmpty, s.count <= 253, !s.hasPrefix("-") else { return false }
        return s.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || $0 == "-" || $0 == "." || $0 == ":"
        }
    }
}
