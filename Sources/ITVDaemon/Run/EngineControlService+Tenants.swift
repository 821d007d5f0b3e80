import ITVControlServer
import ITVCore
import ITVEngine
import ITVProtocol

// Per-tenant access: what a tenant's readers see, and what a tenant's operators may change.
//
// The server decides from the peer's groups (getgrouplist, never the request) which tenants a caller reads and
// operates (`Caller.reads`, `Caller.operates`). Here every answer is cut to the hosts of those tenants, and
// every change that concerns a host of another tenant is refused as `tenant_forbidden` (audited).
extension EngineControlService {
    /// Which host names the caller sees; nil: all of them (root, global readers and operators). A host that
    /// is no longer in the inventory has no tenant and is seen by global callers only.
    func hostFilter(_ caller: Caller, _ set: LoadedSet) -> (@Sendable (String) -> Bool)? {
        guard case .only(let tenants) = caller.reads else { return nil }
        let inventory = set.inventory
        return { name in inventory.host(named: name).map { tenants.contains($0.tenant) } ?? false }
    }

    /// The snapshot with the host runs the caller sees; nil when it sees none of its hosts.
    func scoped(_ s: RolloutSnapshot, _ visible: (@Sendable (String) -> Bool)?) -> RolloutSnapshot? {
        guard let visible else { return s }
        var s = s
        s.hostRuns = s.hostRuns.filter { visible($0.host) }
        return s.hostRuns.isEmpty ? nil : s
    }

    /// The plan with the hosts the caller sees (the hash stays that of the whole plan: it is what an
    /// approval binds to).
    func scoped(_ plan: RolloutPlanResponse, _ visible: (@Sendable (String) -> Bool)?) -> RolloutPlanResponse {
        guard let visible else { return plan }
        var plan = plan
        plan.waves = plan.waves.map { wave in
            var wave = wave
            wave.hosts = wave.hosts.filter(visible)
            return wave
        }
        plan.hostCount = plan.waves.reduce(0) { $0 + $1.hosts.count }
        return plan
    }

    /// Audits a tenant refusal and returns the error to throw.
    func forbid(_ caller: Caller, _ route: Route, _ message: String) async -> APIError {
        await recordDenied(caller: caller, route: route.rawValue, reason: message)
        return APIError(.tenantForbidden, message)
    }

    /// "user egon (uid 1005) operates only tenant(s) egling"
    func who(_ caller: Caller, operating: Bool) -> String {
        "user \(caller.user) (uid \(caller.uid)) \(operating ? "operates" : "reads") only tenant(s) "
            + (operating ? caller.operates : caller.reads).description
    }

    /// Refuses unless the caller operates the tenant of every one of `hosts` (global operators always do).
    /// A host no longer in the inventory belongs to no tenant: only a global operator may act on it.
    func requireOperates(_ caller: Caller, _ route: Route, hosts: [String], _ what: String) async throws {
        guard !caller.mayChange else { return }
        let inventory = await engine.set.inventory
        var foreign = Set<String>()
        for host in hosts {
            let tenant = inventory.host(named: host)?.tenant
            if let tenant, caller.operates.contains(tenant) { continue }
            foreign.insert(tenant ?? "no tenant (not in the inventory)")
        }
        guard !foreign.isEmpty else { return }
        throw await forbid(
            caller, route,
            "\(who(caller, operating: true)); \(what) has hosts of \(foreign.sorted().joined(separator: ", ")): "
                + "it needs a global operator")
    }

    /// Refuses unless the caller reads at least one host of the rollout; returns the snapshot cut to those.
    func readable(_ caller: Caller, _ route: Route, _ s: RolloutSnapshot) async throws -> RolloutSnapshot {
        let set = await engine.set
        if let cut = scoped(s, hostFilter(caller, set)) { return cut }
        throw await forbid(
            caller, route, "\(who(caller, operating: false)); rollout \(s.rollout.id) has none of their hosts")
    }

    /// The tenants a window serves (those whose `windows:` name it).
    func tenants(servedBy window: String) async -> [String] {
        await engine.set.inventory.tenants(servedBy: window)
    }

    /// A tenant operator may open and close the windows that serve only tenants it operates.
    func requireOperatesWindow(_ caller: Caller, _ route: Route, _ name: String) async throws {
        guard !caller.mayChange else { return }
        let served = await tenants(servedBy: name)
        let foreign = served.filter { !caller.operates.contains($0) }
        if !served.isEmpty, foreign.isEmpty { return }
        throw await forbid(
            caller, route,
            "\(who(caller, operating: true)); window \(name) serves "
                + (served.isEmpty ? "every tenant (no tenant names it)" : "also \(foreign.joined(separator: ", "))")
                + ": it needs a global operator")
    }

    /// Audit entries a tenant reader sees: its own, those about rollouts with hosts of its tenants, and
    /// those about windows that serve its tenants.
    func auditFilter(_ caller: Caller, _ records: [AuditRecord]) async throws -> [AuditRecord] {
        guard case .only(let tenants) = caller.reads else { return records }
        let set = await engine.set
        let visible = hostFilter(caller, set)
        var rollouts: [Int64: Bool] = [:]
        var result: [AuditRecord] = []
        for r in records {
            if r.uid == caller.uid {
                result.append(r)
                continue
            }
            let words = r.target.split(separator: " ")
            if words.count >= 2, words[0] == "rollout", let id = Int64(words[1]) {
                if rollouts[id] == nil {
                    let snapshot = try await store.rollout(id: id)
                    rollouts[id] = snapshot.map { scoped($0, visible) != nil } ?? false
                }
                if rollouts[id] == true { result.append(r) }
            } else if words.count == 2, words[0] == "window" {
                if !set.inventory.tenants(servedBy: String(words[1])).filter(tenants.contains).isEmpty {
                    result.append(r)
                }
            }
        }
        return result
    }
}
