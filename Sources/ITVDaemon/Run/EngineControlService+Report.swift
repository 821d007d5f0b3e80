import ITVControlServer
import ITVCore
import ITVEngine
import ITVProtocol

// `itvctl report --tenant T`: per host and procedure what runs, what is newest, since when the host is behind,
// and the rollouts that touched it with their approvers and plan hashes. One page of hosts per request.
extension EngineControlService {
    func report(caller: Caller, _ request: ReportRequest) async throws -> ReportResponse {
        let set = await engine.set
        guard let tenant = set.inventory.tenants[request.tenant] else {
            throw APIError(
                .notFound,
                "no tenant \(request.tenant)"
                    + Suggest.didYouMean(request.tenant, set.inventory.tenants.keys.filter(caller.reads.contains)))
        }
        guard caller.reads.contains(tenant.id) else {
            throw await forbid(
                caller, .report, "\(who(caller, operating: false)); the report of \(tenant.id) is not theirs")
        }
        let now = clock.now()
        let since = request.sinceSeconds ?? ReportRequest.defaultSinceSeconds
        let limit = request.limit ?? ReportRequest.defaultLimit
        // The page: the tenant's hosts in name order after the cursor.
        var names = set.inventory.hosts.filter { $0.tenant == tenant.id }.map(\.name).sorted()
        if let after = request.after { names = names.filter { $0 > after } }
        let page = Array(names.prefix(limit))
        let pageHosts = Set(page)
        let next = names.count > page.count ? page.last : nil

        // Which procedures target each host of the page, in procedure id order.
        let playbooks = set.playbooks.sorted { $0.id < $1.id }
        var targeting: [String: [Playbook]] = [:]
        for p in playbooks {
            for h in set.inventory.hosts(forTargets: p.targets.map(\.value)) where pageHosts.contains(h.name) {
                targeting[h.name, default: []].append(p)
            }
        }
        // What the page's hosts run, by host and procedure.
        var versions: [String: HostVersionRecord] = [:]
        for v in try await store.hostVersions() where pageHosts.contains(v.host) {
            let key = v.host + "\u{0}" + v.procedure
            if versions[key] == nil { versions[key] = v }
        }
        let releases = Dictionary(grouping: try await store.releases(procedure: nil), by: \.procedure)
        // The rollouts of the period, each read once, cut to the page's hosts.
        var touched: [String: [ReportRollout]] = [:]
        let cutoff = now - since * 1000
        let live = Dictionary(
            await engine.activeSnapshots().map { ($0.rollout.id, $0) }, uniquingKeysWith: { a, _ in a })
        for r in try await store.rollouts(includeFinished: true, limit: Int.max).sorted(by: { $0.id < $1.id })
        where r.createdAt >= cutoff {
            var snapshot = live[r.id]
            if snapshot == nil { snapshot = try await store.rollout(id: r.id) }
            guard let s = snapshot else { continue }
            var approvers: [String] = []
            for a in s.approvals where a.source == .operator && !approvers.contains(a.user) { approvers.append(a.user) }
            for run in s.hostRuns where pageHosts.contains(run.host) {
                touched[run.host + "\u{0}" + s.rollout.procedure, default: []].append(
                    ReportRollout(
                        id: s.rollout.id, version: s.rollout.version, phase: s.rollout.phase.rawValue,
                        hostPhase: run.phase.rawValue, createdAt: s.rollout.createdAt,
                        createdBy: s.rollout.createdBy, approvedBy: approvers, planHash: s.rollout.planHash))
            }
        }
        var rows: [ReportRow] = []
        for host in page {
            for p in targeting[host] ?? [] {
                let key = host + "\u{0}" + p.id
                rows.append(
                    Self.reportRow(
                        host: host, playbook: p, seen: versions[key], releases: releases[p.id] ?? [],
                        rollouts: touched[key] ?? []))
            }
        }
        return ReportResponse(
            tenant: tenant.id, tenantName: tenant.name, generatedAt: now, sinceSeconds: since, rows: rows,
            nextAfter: next)
    }

    static func reportRow(
        host: String, playbook p: Playbook, seen: HostVersionRecord?, releases: [ReleaseRecord],
        rollouts: [ReportRollout]
    ) -> ReportRow {
        let scheme = p.feed?.scheme ?? .dotted
        let parsed = releases.compactMap { r in (try? scheme.parse(r.version).get()).map { (r, $0) } }
        let newest = parsed.max { $0.1 < $1.1 }
        let installed = seen?.version.flatMap { try? scheme.parse($0).get() }
        let state: String
        var behindSince: Int64?
        if seen == nil {
            state = "not_scanned"
        } else if newest == nil {
            state = "no_release"
        } else if seen?.version == nil {
            state = "not_installed"
        } else if let installed, let newest, installed >= newest.1 {
            state = "current"
        } else {
            state = "behind"
            // Behind since the first release newer than what the host runs was seen.
            behindSince = parsed.filter { release in installed.map { release.1 > $0 } ?? true }.map(\.0.firstSeen).min()
        }
        return ReportRow(
            host: host, procedure: p.id, installed: seen?.version, seenAt: seen?.seenAt, newest: newest?.0.version,
            state: state, behindSince: behindSince, rollouts: rollouts)
    }
}
