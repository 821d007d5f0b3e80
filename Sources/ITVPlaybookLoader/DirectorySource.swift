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
    /// Sources per inventory: each is read on a thread of its own.
    static let maxSources = 100
    /// The longest `timeout`, in seconds: a reload (all sources at once) answers within itvctl's 300 s.
    static let maxTimeout: Int64 = 120

    // MARK: Reading the configuration

    static func read(
        _ node: YNode, _ r: YAMLReader, base: String, tenants: [String: Tenant], user: String, port: Int,
        os: OSFamily
    ) -> [DirectorySource] {
        guard case .sequence(let items, _) = node else {
            r.error(node.location, "ldap must be a list of sources, found \(r.describe(node))")
            return []
        }
        guard items.count <= maxSources else {
            r.error(node.location, "ldap lists \(items.count) sources; an inventory may have at most \(maxSources)")
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
                    "ldap source name '\(escapedForMessage(name))' must use lowercase letters, digits and '-'")
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
                    r.error(n.location, "\(what) \(key) '\(escapedForMessage(a))' is not an LDAP attribute name")
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
                        "\(what) address_domain '\(escapedForMessage(d))' is not a DNS domain")
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
                        "\(what): unknown tenant '\(escapedForMessage(t))'" + Suggest.didYouMean(t, Array(tenants.keys))
                    )
                }
                source.tenant = t
            } else if !fromOU && f["tenant"] == nil {
                r.error(f.location, "\(what) needs a tenant, or tenant_from_ou: true")
            }
            if let u = text("user") { source.user = u }
            if let p = f["port"].flatMap({ r.int($0, "\(what) port", range: 1...65_535) }) { source.port = p }
            if let n = f["timeout"], let t = r.timeSpan(n, "\(what) timeout") {
                if t.seconds < 1 || t.seconds > maxTimeout {
                    r.error(n.location, "\(what) timeout must be between 1s and 2m")
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
            r.error(location, "\(what): '\(escapedForMessage(url))' is not a URL")
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
}
