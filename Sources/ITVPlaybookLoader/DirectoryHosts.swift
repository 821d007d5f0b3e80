import Foundation
import ITVCore
import ITVDirectory

/// Reading the `ldap:` sources and turning their entries into hosts.
extension DirectorySourceLoader {
    /// Reads every source at once (`readAll`) and adds their hosts to the inventory's. A host name given twice, by the file or by any two sources, is an error that names both.
    /// With a `cache`, a source whose directory cannot be reached gives the hosts of its kept read (a warning
    /// says so) and every fresh read is returned for the daemon to keep.
    static func combine(
        _ inventory: Inventory, _ sources: [DirectorySource], file: String, _ r: YAMLReader,
        cache: DirectoryCache? = nil
    ) -> (inventory: Inventory, reads: [DirectoryRead], warnings: [Diagnostic]) {
        let results = readAll(sources)
        let now = Int64((Date().timeIntervalSince1970 * 1_000).rounded())
        var reads: [DirectoryRead] = []
        var warnings: [Diagnostic] = []
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
                guard let cache, DirectoryCache.ridesOut(e.kind) else {
                    r.error(
                        source.location,
                        "\(what): \(e.message) (\(e.kind.rawValue)); the directory's hosts are not read")
                    continue
                }
                switch cache.load(source) {
                case .failure(let why):
                    r.error(
                        source.location,
                        "\(what): \(e.message) (\(e.kind.rawValue)); the directory's hosts are not read, and \(why.why)"
                    )
                    continue
                case .success(let kept):
                    entries = kept.entries.map(LDAPEntry.init)
                    warnings.append(
                        Diagnostic(
                            source.location,
                            "\(what): \(e.message) (\(e.kind.rawValue)); using the \(entries.count) entries read at "
                                + "\(Self.time(kept.readAt)) until the directory answers (`itvctl reload` reads it again)"
                        ))
                }
            case .success(let list):
                entries = list
                if cache != nil, !list.isEmpty {
                    reads.append(
                        DirectoryRead(
                            source: source.name, fingerprint: source.fingerprint, readAt: now,
                            entries: list.map(DirectoryEntry.init)))
                }
            }
            guard !entries.isEmpty else {
                r.error(
                    source.location,
                    "\(what): the filter \(escapedForMessage(source.filter)) matches no entry under "
                        + "\(escapedForMessage(source.base)); a source that gives no host is refused (a wrong base or "
                        + "filter would otherwise empty its tenant)")
                continue
            }
            for entry in entries {
                guard let host = self.host(entry, source, tenants: inventory.tenants, r) else { continue }
                let origin = "\(what) (\(escapedForMessage(entry.dn, limit: 200)))"
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
        return (combined, reads, warnings)
    }

    /// A kept read's time for a message: UTC, to the second.
    static func time(_ millis: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1_000))
    }

    /// The sources read at the same time, each on a thread of its own (at most `maxSources`): the slowest
    /// directory sets the time, not their sum. (`concurrentPerform` runs only as many at once as there are
    /// cores, and a read spends its time waiting for the network.)
    static func readAll(_ sources: [DirectorySource]) -> [Result<[LDAPEntry], LDAPReadError>] {
        let box = ResultsBox(count: sources.count)
        let group = DispatchGroup()
        for (i, source) in sources.enumerated() {
            group.enter()
            let thread = Thread {
                box.set(i, readOne(source))
                group.leave()
            }
            thread.name = "itv-ldap-\(source.name)"
            thread.start()
        }
        group.wait()
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
        let what = "ldap source '\(source.name)': entry \(escapedForMessage(entry.dn, limit: 200))"
        guard let rawName = entry.values(source.hostName).first else {
            r.error(source.location, "\(what) has no \(source.hostName) for a host name")
            return nil
        }
        let name = rawName.lowercased()
        guard InventoryLoader.isValidName(name) else {
            r.error(
                source.location,
                "\(what): host name '\(escapedForMessage(rawName))' (\(source.hostName)) must use letters, digits, "
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
                "\(what): address '\(escapedForMessage(address))' (\(source.address)) is not an IP address or DNS name")
            return nil
        }
        let os: OSFamily
        if let text = entry.values(source.os).first {
            guard let family = osFamily(text) else {
                r.error(
                    source.location,
                    "\(what): \(source.os) '\(escapedForMessage(text))' is neither Windows nor Linux; narrow the filter "
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
                    "\(what): its OU '\(escapedForMessage(ou))' names no tenant ('\(escapedForMessage(id))' is not "
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
                source.location, "\(what): group '\(escapedForMessage(g))' must use letters, digits, '.', '_' and '-'")
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
                if i + 2 < bytes.count, let hi = bytes[i + 1].asciiHexValue, let lo = bytes[i + 2].asciiHexValue {
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
}
