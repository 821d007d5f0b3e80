import Foundation
import ITVCore
import ITVDirectory

/// One `ldap:` source of the inventory: a search in a directory (Active Directory, OpenLDAP) whose
/// entries become hosts.
struct DirectorySource: Sendable {
    enum Groups: String, CaseIterable { case memberOf = "member_of", ou, none }

    var name: String
    var url: String
    var allowPlain = false
    var caFile: String?
    var bindDN: String?
    var passwordFile: String?
    var base: String
    var filter = "(objectClass=computer)"
    var hostName = "cn"
    var address = "dNSHostName"
    /// When set, a host's address is its name and this domain, and no attribute is read for it.
    var addressDomain: String?
    var os = "operatingSystem"
    var groups = Groups.memberOf
    /// A fixed tenant, or nil for the tenant named by the outermost OU below the base.
    var tenant: String?
    var user: String
    var port: Int
    var defaultOS: OSFamily
    var timeout: Double = 30
    var maxEntries = 10_000
    /// The `- name:` item in the inventory file: where its problems and its hosts point.
    var location: SourceLocation

    /// The attributes one search asks for.
    var attributes: [String] {
        var list = [hostName, os]
        if addressDomain == nil { list.append(address) }
        if groups == .memberOf { list.append("memberOf") }
        return list
    }
}

/// `ldap:` in the inventory: the sources' keys, reading them from the directory, and the hosts they give.
enum DirectorySourceLoader {
    static let keys = [
        "name", "url", "allow_plain", "ca_file", "bind_dn", "password_file", "base", "filter", "host_name",
        "address", "address_domain", "os", "groups", "tenant", "tenant_from_ou", "user", "port", "timeout",
        "max_entries",
    ]
    /// Hard bound on `max_entries`: ten times the cooperative's hosts, in one source.
    static let maxEntriesBound = 100_000

    // MARK: Reading the configuration

    static func read(
        _ node: YNode, _ r: YAMLReader, base: String, tenants: [String: Tenant], user: String, port: Int,
        os: OSFamily
    ) -> [DirectorySource] {
        guard case .sequence(let items, _) = node else {
            r.error(node.location, "ldap must be a list of sources, found \(r.describe(node))")
            return []
        }
        var sources: [DirectorySource] = []
        var names: Set<String> = []
        for item in items {
            guard let f = r.mapping(item, "an ldap source", known: keys) else { continue }
            guard let nameNode = f["name"], let name = r.string(nameNode, "ldap source name") else {
                r.error(f.location, "an ldap source needs a name")
                continue
            }
            guard Playbook.isValidID(name) else {
                r.error(
                    nameNode.location,
                    "ldap source name '\(Suggest.printable(name))' must use lowercase letters, digits and '-'")
                continue
            }
            guard names.insert(name).inserted else {
                r.error(nameNode.location, "ldap source '\(name)' is declared twice")
                continue
            }
            let what = "ldap source '\(name)'"
            func text(_ key: String) -> String? { f[key].flatMap { r.string($0, "\(what) \(key)") } }
            func attribute(_ key: String) -> String? {
                guard let n = f[key], let a = r.string(n, "\(what) \(key)") else { return nil }
                guard isAttributeName(a) else {
                    r.error(n.location, "\(what) \(key) '\(Suggest.printable(a))' is not an LDAP attribute name")
                    return nil
                }
                return a
            }
            guard let urlNode = f["url"], let url = r.string(urlNode, "\(what) url") else {
                r.error(f.location, "\(what) needs a url (ldaps://host or ldap://host with StartTLS)")
                continue
            }
            let allowPlain = f["allow_plain"].flatMap { r.bool($0, "\(what) allow_plain") } ?? false
            checkURL(url, at: urlNode.location, what: what, r)
            guard let baseDN = text("base") else {
                if f["base"] == nil { r.error(f.location, "\(what) needs a base (the DN searched under)") }
                continue
            }
            var source = DirectorySource(
                name: name, url: url, allowPlain: allowPlain, base: baseDN, user: user, port: port, defaultOS: os,
                location: nameNode.location)
            if let p = text("ca_file") { source.caFile = ConfigLoader.resolve(p, base: base) }
            source.bindDN = text("bind_dn")
            if let n = f["password_file"], let p = r.string(n, "\(what) password_file") {
                let path = ConfigLoader.resolve(p, base: base)
                NotifyConfigLoader.checkSecret(path, at: n.location, what: "\(what) password_file", r)
                source.passwordFile = path
            }
            if (source.bindDN == nil) != (f["password_file"] == nil) {
                r.error(f.location, "\(what): bind_dn and password_file go together (neither binds anonymously)")
            }
            if let filter = text("filter") {
                if !filter.hasPrefix("(") || !filter.hasSuffix(")") || filter.utf8.count > 4_096 {
                    r.error(f.keyLocation("filter"), "\(what) filter must be an LDAP filter in parentheses")
                }
                source.filter = filter
            }
            if let a = attribute("host_name") { source.hostName = a }
            if let a = attribute("os") { source.os = a }
            if let a = attribute("address") { source.address = a }
            if let d = text("address_domain") {
                if f["address"] != nil {
                    r.error(f.keyLocation("address_domain"), "\(what): address and address_domain exclude each other")
                }
                if !InventoryLoader.isValidAddress(d) || d.hasPrefix(".") {
                    r.error(
                        f.keyLocation("address_domain"),
                        "\(what) address_domain '\(Suggest.printable(d))' is not a DNS domain")
                }
                source.addressDomain = d.lowercased()
            }
            if let g = f["groups"].flatMap({ r.enumValue($0, "\(what) groups", DirectorySource.Groups.self) }) {
                source.groups = g
            }
            let fromOU = f["tenant_from_ou"].flatMap { r.bool($0, "\(what) tenant_from_ou") } ?? false
            if let n = f["tenant"], let t = r.string(n, "\(what) tenant") {
                if fromOU { r.error(n.location, "\(what): tenant and tenant_from_ou exclude each other") }
                if tenants[t] == nil {
                    r.error(
                        n.location,
                        "\(what): unknown tenant '\(Suggest.printable(t))'" + Suggest.didYouMean(t, Array(tenants.keys))
                    )
                }
                source.tenant = t
            } else if !fromOU && f["tenant"] == nil {
                r.error(f.location, "\(what) needs a tenant, or tenant_from_ou: true")
            }
            if let u = text("user") { source.user = u }
            if let p = f["port"].flatMap({ r.int($0, "\(what) port", range: 1...65_535) }) { source.port = p }
            if let n = f["timeout"], let t = r.timeSpan(n, "\(what) timeout") {
                if t.seconds < 1 || t.seconds > 600 {
                    r.error(n.location, "\(what) timeout must be between 1s and 10m")
                }
                source.timeout = Double(t.seconds)
            }
            if let m = f["max_entries"].flatMap({ r.int($0, "\(what) max_entries", range: 1...maxEntriesBound) }) {
                source.maxEntries = m
            }
            sources.append(source)
        }
        return sources
    }

    static func checkURL(_ url: String, at location: SourceLocation, what: String, _ r: YAMLReader) {
        guard let c = URLComponents(string: url), let scheme = c.scheme?.lowercased(), let host = c.host, !host.isEmpty,
            url.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else {
            r.error(location, "\(what): '\(Suggest.printable(url))' is not a URL")
            return
        }
        guard scheme == "ldaps" || scheme == "ldap" else {
            r.error(location, "\(what): the url must be ldaps:// or ldap:// (with StartTLS), not \(scheme)://")
            return
        }
        if c.path != "" && c.path != "/" {
            r.error(location, "\(what): the url names only the server; give the DN as base")
        }
    }

    /// An LDAP attribute descriptor (RFC 4512): a letter, then letters, digits and '-'.
    static func isAttributeName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, s.utf8.count <= 64,
            ("a"..."z").contains(first) || ("A"..."Z").contains(first)
        else { return false }
        return s.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-"
        }
    }

    // MARK: Reading the directory

    /// Reads every source (at once, each on a thread of its own) and adds their hosts to the inventory's.
    /// A host name given twice, by the file or by any two sources, is an error that names both.
    static func combine(_ inventory: Inventory, _ sources: [DirectorySource], file: String, _ r: YAMLReader)
        -> Inventory
    {
        let results = readAll(sources)
        var combined = inventory
        var origins: [String: String] = [:]
        for host in inventory.hosts where origins[host.name] == nil {
            origins[host.name] = "the inventory file (line \(host.location.line))"
        }
        for (source, result) in zip(sources, results) {
            let what = "ldap source '\(source.name)'"
            let entries: [LDAPEntry]
            switch result {
            case .failure(let e):
                r.error(
                    source.location, "\(what): \(e.message) (\(e.kind.rawValue)); the directory's hosts are not read")
                continue
            case .success(let list): entries = list
            }
            guard !entries.isEmpty else {
                r.error(
                    source.location,
                    "\(what): the filter \(Suggest.printable(source.filter)) matches no entry under "
                        + "\(Suggest.printable(source.base)); a source that gives no host is refused (a wrong base or "
                        + "filter would otherwise empty its tenant)")
                continue
            }
            for entry in entries {
                guard let host = self.host(entry, source, tenants: inventory.tenants, r) else { continue }
                let origin = "\(what) (\(Suggest.printable(entry.dn, limit: 200)))"
                if let first = origins[host.name] {
                    r.error(
                        source.location,
                        "host '\(host.name)' is given twice: by \(first) and by \(origin); host names must be unique "
                            + "across the inventory file and every ldap source")
                    continue
                }
                origins[host.name] = origin
                combined.hosts.append(host)
            }
        }
        return combined
    }

    /// The sources read concurrently: the slowest (or unreachable) directory sets the time, not their sum.
    static func readAll(_ sources: [DirectorySource]) -> [Result<[LDAPEntry], LDAPReadError>] {
        let box = ResultsBox(count: sources.count)
        DispatchQueue.concurrentPerform(iterations: sources.count) { i in
            box.set(i, readOne(sources[i]))
        }
        return box.results
    }

    static func readOne(_ source: DirectorySource) -> Result<[LDAPEntry], LDAPReadError> {
        var password: [UInt8] = []
        if let file = source.passwordFile {
            switch FileInput.read(file, maxBytes: 4_096) {
            case .failure(let d): return .failure(LDAPReadError(.credentials, "password_file \(file): \(d.message)"))
            case .success(var bytes):
                while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
                password = bytes
            }
        }
        let query = LDAPQuery(
            url: source.url, plain: source.allowPlain && source.url.lowercased().hasPrefix("ldap://"),
            caFile: source.caFile, bindDN: source.bindDN, password: password, base: source.base,
            filter: source.filter, attributes: source.attributes, timeout: source.timeout,
            maxEntries: source.maxEntries)
        return LDAPReader.read(query)
    }

    /// The host of one entry, or nil (with a diagnostic) when the entry cannot be one.
    static func host(_ entry: LDAPEntry, _ source: DirectorySource, tenants: [String: Tenant], _ r: YAMLReader)
        -> ITVCore.Host?
    {
        let what = "ldap source '\(source.name)': entry \(Suggest.printable(entry.dn, limit: 200))"
        guard let rawName = entry.values(source.hostName).first else {
            r.error(source.location, "\(what) has no \(source.hostName) for a host name")
            return nil
        }
        let name = rawName.lowercased()
        guard InventoryLoader.isValidName(name) else {
            r.error(
                source.location,
                "\(what): host name '\(Suggest.printable(rawName))' (\(source.hostName)) must use letters, digits, "
                    + "'.', '_' and '-'")
            return nil
        }
        let address: String
        if let domain = source.addressDomain {
            address = "\(name).\(domain)"
        } else if let a = entry.values(source.address).first {
            address = a.lowercased()
        } else {
            r.error(source.location, "\(what) has no \(source.address) for the host's address")
            return nil
        }
        guard InventoryLoader.isValidAddress(address) else {
            r.error(
                source.location,
                "\(what): address '\(Suggest.printable(address))' (\(source.address)) is not an IP address or DNS name")
            return nil
        }
        let os: OSFamily
        if let text = entry.values(source.os).first {
            guard let family = osFamily(text) else {
                r.error(
                    source.location,
                    "\(what): \(source.os) '\(Suggest.printable(text))' is neither Windows nor Linux; narrow the filter "
                        + "to the computers itvd looks after")
                return nil
            }
            os = family
        } else {
            os = source.defaultOS
        }
        let containers = containerOUs(entry.dn, base: source.base)
        let tenant: String
        if let fixed = source.tenant {
            tenant = fixed
        } else {
            guard let ou = containers.last else {
                r.error(source.location, "\(what) lies in no OU below the base; tenant_from_ou needs one")
                return nil
            }
            let id = directoryName(ou)
            guard tenants[id] != nil else {
                r.error(
                    source.location,
                    "\(what): its OU '\(Suggest.printable(ou))' names no tenant ('\(Suggest.printable(id))' is not "
                        + "declared under tenants)" + Suggest.didYouMean(id, Array(tenants.keys)))
                return nil
            }
            tenant = id
        }
        var groups: [String] = []
        switch source.groups {
        case .memberOf:
            groups = entry.values("memberOf").compactMap { DistinguishedName.parse($0)?.first?.value }
        case .ou:
            groups = containers
        case .none:
            break
        }
        groups = groups.map(directoryName)
        for g in groups where !InventoryLoader.isValidName(g) {
            r.error(
                source.location, "\(what): group '\(Suggest.printable(g))' must use letters, digits, '.', '_' and '-'")
            return nil
        }
        var unique: [String] = []
        for g in groups where !unique.contains(g) { unique.append(g) }
        return ITVCore.Host(
            name: name, address: address, port: source.port, user: source.user, tenant: tenant, groups: unique,
            os: os, location: source.location)
    }

    /// `operatingSystem` as Active Directory and Samba write it ("Windows 10 Enterprise", "Windows Server
    /// 2022 Standard", "Debian GNU/Linux 12", "Ubuntu").
    static func osFamily(_ text: String) -> OSFamily? {
        let t = text.lowercased()
        if t.contains("windows") { return .windows }
        let linux = ["linux", "debian", "ubuntu", "suse", "red hat", "redhat", "centos", "fedora", "rocky", "alma"]
        if linux.contains(where: { t.contains($0) }) { return .linux }
        return nil
    }

    /// The values of the OUs between an entry and the base, inner first.
    static func containerOUs(_ dn: String, base: String) -> [String] {
        guard let rdns = DistinguishedName.parse(dn) else { return [] }
        let baseCount = DistinguishedName.parse(base)?.count ?? 0
        let between = rdns.dropFirst().dropLast(min(baseCount, max(0, rdns.count - 1)))
        return between.filter { $0.type.lowercased() == "ou" }.map { $0.value }
    }

    /// A directory's name as an inventory name: lowercased, spaces as '-'.
    static func directoryName(_ s: String) -> String {
        s.lowercased().replacingOccurrences(of: " ", with: "-")
    }
}

/// Results written by concurrent readers, one slot each.
private final class ResultsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<[LDAPEntry], LDAPReadError>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ r: Result<[LDAPEntry], LDAPReadError>) {
        lock.lock()
        slots[i] = r
        lock.unlock()
    }

    var results: [Result<[LDAPEntry], LDAPReadError>] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0 ?? .failure(LDAPReadError(.failed, "not read")) }
    }
}

/// RFC 4514 distinguished names, as far as the inventory needs them: the type and value of each RDN's first
/// attribute, outermost last.
enum DistinguishedName {
    static func parse(_ dn: String) -> [(type: String, value: String)]? {
        var rdns: [(type: String, value: String)] = []
        var type = ""
        var value: [UInt8] = []
        var inValue = false
        var skipRest = false  // after '+' (a multi-valued RDN): the first attribute is kept
        let bytes = Array(dn.utf8)
        var i = 0
        func finish() -> Bool {
            let t = type.trimmingCharacters(in: .whitespaces)
            guard !t.isEmpty, inValue else { return false }
            var v = value
            while let last = v.last, last == 0x20 { v.removeLast() }
            rdns.append((type: t, value: String(decoding: v, as: UTF8.self)))
            type = ""
            value = []
            inValue = false
            skipRest = false
            return true
        }
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else { return nil }
                if i + 2 < bytes.count, let hi = hex(bytes[i + 1]), let lo = hex(bytes[i + 2]) {
                    if !skipRest { value.append(hi << 4 | lo) }
                    i += 3
                } else {
                    if !skipRest { value.append(bytes[i + 1]) }
                    i += 2
                }
                continue
            }
            if b == UInt8(ascii: ",") || b == UInt8(ascii: ";") {
                guard finish() else { return nil }
            } else if b == UInt8(ascii: "+") && inValue {
                skipRest = true
            } else if b == UInt8(ascii: "=") && !inValue {
                inValue = true
            } else if inValue {
                if !skipRest && !(value.isEmpty && b == 0x20) { value.append(b) }
            } else {
                type.append(Character(Unicode.Scalar(b)))
            }
            i += 1
        }
        if !type.isEmpty || inValue {
            guard finish() else { return nil }
        }
        return rdns
    }

    private static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
