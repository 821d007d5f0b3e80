import ITVCore

/// Reads an Ansible YAML inventory. Groups come from `children`, a host is in every group above it,
/// variables inherit from groups to hosts (host vars win). Of the variables, `ansible_host`,
/// `ansible_port`, `ansible_user`, `itv_tenant` and `itv_os` (or `ansible_shell_type: powershell` /
/// `cmd`) are used; other variables are ignored, as Ansible inventories carry many of them.
/// Hosts without `itv_tenant` belong to the tenant `default`.
struct AnsibleInventoryReader {
    let r: YAMLReader

    /// The variables itvd reads. Only these are carried from groups to hosts: copying every variable of a
    /// group into each of its hosts would cost groups' variables times hosts.
    static let usedVariables: Set<String> = [
        "ansible_host", "ansible_port", "ansible_user", "itv_tenant", "itv_os", "ansible_shell_type",
    ]

    private struct Entry {
        var location: SourceLocation
        var hostVars: [String: (YNode, SourceLocation)] = [:]
        /// Group variables with the depth of the group that set them: the deeper group wins.
        var groupVars: [String: (YNode, SourceLocation, Int)] = [:]
        var groups: [String] = []

        var vars: [String: (YNode, SourceLocation)] {
            var merged = groupVars.mapValues { ($0.0, $0.1) }
            merged.merge(hostVars) { _, host in host }
            return merged
        }
    }

    func read(_ root: YNode) -> Inventory? {
        guard let top = r.mapping(root, "the Ansible inventory", known: ["all"]), let all = top["all"] else {
            return nil
        }
        var order: [String] = []
        var entries: [String: Entry] = [:]
        walk(all, group: "all", path: [], inherited: [:], order: &order, entries: &entries)

        var tenants: [String: Tenant] = [:]
        var hosts: [Host] = []
        for name in order {
            guard let e = entries[name] else { continue }
            let address =
                e.vars["ansible_host"].flatMap { r.string($0.0, "host '\(escapedForMessage(name))' ansible_host") }
                ?? name
            let port = e.vars["ansible_port"].flatMap {
                r.int($0.0, "host '\(escapedForMessage(name))' ansible_port", range: 1...65_535)
            }
            let user = e.vars["ansible_user"].flatMap {
                r.string($0.0, "host '\(escapedForMessage(name))' ansible_user")
            }
            let tenant =
                e.vars["itv_tenant"].flatMap { r.string($0.0, "host '\(escapedForMessage(name))' itv_tenant") }
                ?? "default"
            var os =
                e.vars["itv_os"].flatMap {
                    r.enumValue($0.0, "host '\(escapedForMessage(name))' itv_os", OSFamily.self)
                } ?? .linux
            if let shell = e.vars["ansible_shell_type"].flatMap({ r.string($0.0, "ansible_shell_type") }),
                shell == "powershell" || shell == "cmd"
            {
                os = .windows
            }
            tenants[tenant] = tenants[tenant] ?? Tenant(id: tenant, name: tenant)
            hosts.append(
                Host(
                    name: name, address: address, port: port ?? 22, user: user ?? "itv", tenant: tenant,
                    groups: e.groups, os: os, location: e.location))
        }
        return Inventory(tenants: tenants, hosts: hosts)
    }

    private func walk(
        _ node: YNode, group: String, path: [String], inherited: [String: (YNode, SourceLocation, Int)],
        order: inout [String], entries: inout [String: Entry]
    ) {
        if case .scalar(let s) = node, s.isNull { return }
        guard
            let f = r.mapping(
                node, "Ansible group '\(escapedForMessage(group))'", known: ["hosts", "children", "vars"])
        else { return }
        let groups = group == "all" ? path : path + [group]
        var vars = inherited
        if let v = f["vars"] {
            for (key, location, value) in r.namedEntries(v, "vars of group '\(escapedForMessage(group))'")
            where Self.usedVariables.contains(key) {
                vars[key] = (value, location, groups.count)
            }
        }
        if let h = f["hosts"] {
            for (name, location, value) in r.namedEntries(h, "hosts of group '\(escapedForMessage(group))'") {
                var entry = entries[name] ?? Entry(location: location)
                if entries[name] == nil { order.append(name) }
                // A variable set by a deeper group wins over one set higher up.
                for (k, v) in vars where (entry.groupVars[k]?.2 ?? -1) <= v.2 { entry.groupVars[k] = v }
                if case .mapping = value {
                    for (key, l, v) in r.namedEntries(value, "host '\(escapedForMessage(name))'")
                    where Self.usedVariables.contains(key) {
                        entry.hostVars[key] = (v, l)
                    }
                } else if case .scalar(let s) = value, !s.isNull {
                    r.error(
                        s.location,
                        "host '\(escapedForMessage(name))' must be a mapping of variables, found \(r.describe(value))")
                }
                for g in groups where !entry.groups.contains(g) { entry.groups.append(g) }
                entries[name] = entry
            }
        }
        if let c = f["children"] {
            for (child, _, value) in r.namedEntries(c, "children of group '\(escapedForMessage(group))'") {
                walk(value, group: child, path: groups, inherited: vars, order: &order, entries: &entries)
            }
        }
    }
}
