import Foundation
import ITVControlServer
import ITVCore
import ITVEngine
import ITVProtocol
import Logging

/// What the control service needs from the running daemon beside the engine.
protocol DaemonHooks: Sendable {
    /// Re-reads playbooks and inventory; on problems keeps the last good set and returns them.
    func reload(by requester: Requester) async -> ReloadResponse
    /// Polls the feeds of these procedures (all when empty) now.
    func checkFeeds(_ procedures: [String]) async -> [FeedCheckResult]
    /// Feed health and outbox counts for the metrics.
    func metricsExtras() async -> MetricsExtras
    func notifyList() async throws -> NotifyListResponse
    /// nil: no such sink.
    func notifyTest(_ name: String, by requester: Requester) async -> NotifyTestResponse?
    /// When the last reload ran, and its problems (empty when it succeeded): an unreachable directory or a
    /// broken file stays visible in `status` after the reload's own answer.
    func lastReload() async -> (at: Int64?, problems: [String])
}

/// The control socket's view of the engine: maps each route to engine operations and wire types.
struct EngineControlService: ControlService {
    let engine: RolloutEngine
    let store: any RolloutStore
    let hooks: any DaemonHooks
    let clock: any EngineClock
    let startedAt: EpochMillis
    /// Refused requests audited per user and minute.
    let denials = DenialLimiter()
    /// Counters and histograms of the running daemon; nil: `GET /v1/metrics` answers not_found.
    var metrics: DaemonMetrics? = nil

    func requester(_ caller: Caller) -> Requester { Requester(user: caller.user, uid: caller.uid) }

    /// Runs an engine call, turning its refusals into typed API errors.
    func call<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw Self.wireError(error)
        }
    }

    /// The API error a refusal of the engine or the store becomes (other errors stay as they are).
    static func wireError(_ error: any Error) -> any Error {
        switch error {
        case let e as EngineError:
            return APIError(ErrorKind(e.kind.answer), e.message)
        case let e as StoreError:
            // The store's constraint refusing a change is what the engine's own checks refuse as `conflict`;
            // any other store error is the daemon's, not the request's.
            let kind = ErrorKind(e.kind.answer)
            return APIError(kind, kind == .conflict ? e.message : "the state store failed: \(e.message)")
        default:
            return error
        }
    }

    func status(caller: Caller) async throws -> StatusResponse {
        let set = await engine.set
        let visible = hostFilter(caller, set)
        let active = await engine.activeSnapshots().compactMap { scoped($0, visible) }
        let windows = await engine.windowList().filter(\.open).map(\.spec.name)
        var problems: [String] = []
        if let failure = await engine.storeFailure { problems.append("state store failed: \(failure)") }
        let reboots = Set(try await store.pendingReboots().map(\.host)).count
        let reload = await hooks.lastReload()
        problems += reload.problems
        return StatusResponse(
            daemonVersion: ITVRelease.version, startedAt: startedAt, now: clock.now(), procedures: set.playbooks.count,
            hosts: visible.map { v in set.inventory.hosts.count { v($0.name) } } ?? set.inventory.hosts.count,
            tenants: caller.reads.isAll
                ? set.inventory.tenants.count : set.inventory.tenants.keys.count(where: caller.reads.contains),
            activeRollouts: active.count,
            openWindows: windows,
            attention: try await attention(active, visible, now: clock.now()), lastReloadAt: reload.at,
            problems: problems, rebootsPending: reboots > 0 ? reboots : nil)
    }

    /// Rollouts that need a person: waiting for an approval, halted, paused; with unreached hosts (active, or
    /// ended incomplete in the last 7 days); a tenant's people see only the hosts of their tenants.
    func attention(_ active: [RolloutSnapshot], _ visible: (@Sendable (String) -> Bool)?, now: Int64) async throws
        -> [RolloutInfo]
    {
        var infos = active.filter {
            $0.rollout.phase.waitsForPerson || $0.hostRuns.contains(where: { $0.phase == .unreached })
        }.map { RolloutInfo($0.rollout, waveCount: $0.waves.count, hostRuns: $0.hostRuns) }
        let week: Int64 = 7 * 86_400_000
        for r in try await store.rollouts(includeFinished: true, limit: 20)
        where r.phase == .incomplete && r.updatedAt > now - week {
            if let s = try await store.rollout(id: r.id).flatMap({ scoped($0, visible) }) {
                infos.append(RolloutInfo(s.rollout, waveCount: s.waves.count, hostRuns: s.hostRuns))
            }
        }
        return infos
    }

    // MARK: Procedures, releases, hosts

    /// Host versions by procedure, then by host: looked up, never searched (a host list of 800 hosts by 300
    /// procedures searched every stored version for each host and procedure).
    typealias VersionIndex = [String: [String: HostVersionRecord]]

    static func index(_ versions: [HostVersionRecord]) -> VersionIndex {
        var index: VersionIndex = [:]
        for v in versions where index[v.procedure]?[v.host] == nil { index[v.procedure, default: [:]][v.host] = v }
        return index
    }

    func procedureInfo(
        _ p: Playbook, set: LoadedSet, releases: [ReleaseRecord], versions: [String: HostVersionRecord],
        visible: (@Sendable (String) -> Bool)? = nil
    ) -> ProcedureInfo {
        let hosts = set.inventory.hosts(forTargets: p.targets.map(\.value)).filter { visible?($0.name) ?? true }
        let names = Set(hosts.map(\.name))
        var counts: [String?: Int] = [:]
        for h in names { counts[versions[h]?.version ?? nil, default: 0] += 1 }
        return ProcedureInfo(
            id: p.id, name: p.name, vendor: p.vendor, targets: p.targets.map(\.value), hostCount: hosts.count,
            scheme: (p.feed?.scheme ?? .dotted).rawValue, feedKind: p.feed?.kind.rawValue, feedUrl: p.feed?.url,
            latestRelease: Self.latest(releases, scheme: p.feed?.scheme ?? .dotted),
            deployed: counts.map { VersionCount(version: $0.key, hosts: $0.value) }.sorted {
                ($0.version ?? "") < ($1.version ?? "")
            })
    }

    /// The highest release by the procedure's scheme.
    static func latest(_ releases: [ReleaseRecord], scheme: VersionScheme) -> String? {
        releases.compactMap { try? scheme.parse($0.version).get() }.max()?.raw
    }

    func procedureList(caller: Caller) async throws -> ProcedureListResponse {
        let set = await engine.set
        let visible = hostFilter(caller, set)
        let releases = Dictionary(grouping: try await store.releases(procedure: nil), by: \.procedure)
        let versions = Self.index(try await store.hostVersions())
        return ProcedureListResponse(
            procedures: set.playbooks.sorted { $0.id < $1.id }.map {
                procedureInfo(
                    $0, set: set, releases: releases[$0.id] ?? [], versions: versions[$0.id] ?? [:], visible: visible)
            })
    }

    func procedureShow(caller: Caller, id: String) async throws -> ProcedureDetail {
        let set = await engine.set
        guard let p = set.playbooks.first(where: { $0.id == id }) else {
            throw APIError(.notFound, "no procedure \(id)" + Suggest.didYouMean(id, set.playbooks.map(\.id)))
        }
        let visible = hostFilter(caller, set)
        let releases = try await store.releases(procedure: id)
        let versions = Self.index(try await store.hostVersions())[id] ?? [:]
        let info = procedureInfo(p, set: set, releases: releases, versions: versions, visible: visible)
        let waves: [PlanWaveInfo]
        if case .success(let plan) = WavePlanner.plan(playbook: p, inventory: set.inventory, version: "0") {
            waves = scoped(RolloutPlanResponse(plan), visible).waves
        } else {
            waves = []
        }
        let rollouts = try await store.rollouts(includeFinished: true, limit: 20).filter { $0.procedure == id }
        var infos: [RolloutInfo] = []
        for r in rollouts {
            if let s = try await store.rollout(id: r.id).flatMap({ scoped($0, visible) }) {
                infos.append(RolloutInfo(s.rollout, waveCount: s.waves.count, hostRuns: s.hostRuns))
            }
        }
        return ProcedureDetail(
            procedure: info, waves: waves, releases: releases.map { ReleaseInfo($0) },
            hosts: installed(for: p, set: set, versions: versions, latest: info.latestRelease).filter {
                visible?($0.host) ?? true
            }, rollouts: infos)
    }

    /// What each target host of `p` runs; `versions`: the procedure's, by host.
    func installed(for p: Playbook, set: LoadedSet, versions: [String: HostVersionRecord], latest: String?)
        -> [InstalledVersion]
    {
        let scheme = p.feed?.scheme ?? .dotted
        let latestVersion = latest.flatMap { try? scheme.parse($0).get() }
        return set.inventory.hosts(forTargets: p.targets.map(\.value)).map { host in
            let seen = versions[host.name]
            let current = latestVersion != nil && seen?.version.flatMap { try? scheme.parse($0).get() } == latestVersion
            return InstalledVersion(
                host: host.name, procedure: p.id, version: seen?.version, seenAt: seen?.seenAt, latest: latest,
                current: current)
        }
    }

    func releaseList(caller: Caller, _ request: ReleaseListRequest) async throws -> ReleaseListResponse {
        let artifacts = Dictionary(
            (await engine.artifactList()).map { ($0.procedure + "\u{0}" + $0.version, $0) }, uniquingKeysWith: { $1 })
        return ReleaseListResponse(
            releases: try await store.releases(procedure: request.procedure).map {
                ReleaseInfo($0, artifact: artifacts[$0.procedure + "\u{0}" + $0.version])
            })
    }

    /// The artifact records, as `release list` shows releases: every procedure's (a tenant's readers see the
    /// same releases and procedures as everyone; the records name vendor files, not hosts).
    func artifactList(caller: Caller, _ request: ArtifactListRequest) async throws -> ArtifactListResponse {
        if let p = request.procedure {
            let ids = await engine.set.playbooks.map(\.id)
            if !ids.contains(p) { throw APIError(.notFound, "no procedure \(p)" + Suggest.didYouMean(p, ids)) }
        }
        let view = await engine.artifactCache(procedure: request.procedure)
        let limit = request.limit ?? ArtifactListRequest.defaultLimit
        return ArtifactListResponse(
            artifacts: view.entries.prefix(limit).map {
                ArtifactInfo($0.record, cached: $0.cached, keptBecause: $0.keptBecause)
            }, cacheBytes: view.bytes, maxBytes: view.maxBytes, total: view.entries.count)
    }

    func feedCheck(caller: Caller, _ request: FeedCheckRequest) async throws -> FeedCheckResponse {
        let set = await engine.set
        for id in request.procedures where !set.playbooks.contains(where: { $0.id == id }) {
            throw APIError(.notFound, "no procedure \(id)")
        }
        return FeedCheckResponse(results: await hooks.checkFeeds(request.procedures))
    }

    func hostList(caller: Caller, _ request: HostListRequest) async throws -> HostListResponse {
        let set = await engine.set
        let releases = Dictionary(grouping: try await store.releases(procedure: request.procedure), by: \.procedure)
        let versions = Self.index(try await store.hostVersions())
        var playbooks = set.playbooks
        if let p = request.procedure {
            playbooks = playbooks.filter { $0.id == p }
            if playbooks.isEmpty { throw APIError(.notFound, "no procedure \(p)") }
        }
        let visible = hostFilter(caller, set)
        let hosts = set.inventory.hosts.filter { h in
            (visible?(h.name) ?? true) && (request.group.map { h.groups.contains($0) } ?? true)
                && (request.tenant.map { h.tenant == $0 } ?? true)
        }
        var reboots: [String: [String]] = [:]
        for r in try await store.pendingReboots() where request.procedure == nil || r.procedure == request.procedure {
            reboots[r.host, default: []].append(r.procedure)
        }
        // Hosts not reached by an active rollout (deferred or unreached), by procedure and host.
        var asleep: [String: [String: (Int64, HostRunRecord)]] = [:]
        for s in await engine.activeSnapshots() {
            for run in s.hostRuns where run.phase == .deferred || run.phase == .unreached {
                asleep[s.rollout.procedure, default: [:]][run.host] = (s.rollout.id, run)
            }
        }
        var perHost: [String: [InstalledVersion]] = [:]
        for p in playbooks {
            let latest = Self.latest(releases[p.id] ?? [], scheme: p.feed?.scheme ?? .dotted)
            for var v in installed(for: p, set: set, versions: versions[p.id] ?? [:], latest: latest) {
                if let (id, run) = asleep[p.id]?[v.host] {
                    v.rolloutId = id
                    v.rolloutState = run.phase.rawValue
                    v.deferReason = run.deferReason
                }
                perHost[v.host, default: []].append(v)
            }
        }
        return HostListResponse(
            hosts: hosts.filter { request.procedure == nil || perHost[$0.name] != nil }.map {
                HostInfo(
                    name: $0.name, address: $0.address, port: $0.port, tenant: $0.tenant, groups: $0.groups,
                    os: $0.os.rawValue, procedures: perHost[$0.name] ?? [], rebootPending: reboots[$0.name])
            })
    }

    func hostScan(caller: Caller, _ request: HostScanRequest) async throws -> HostScanResponse {
        let set = await engine.set
        let found = try await call {
            try await engine.scan(procedure: request.procedure, by: requester(caller), parallel: set.config.parallel)
        }
        let playbooks = request.procedure.map { id in set.playbooks.filter { $0.id == id } } ?? set.playbooks
        // By host and procedure: a scan of every procedure finds up to procedures x hosts versions.
        let byKey = Dictionary(found.map { ($0.host + "\u{0}" + $0.procedure, $0) }, uniquingKeysWith: { a, _ in a })
        var results: [HostScanResult] = []
        for p in playbooks {
            for h in set.inventory.hosts(forTargets: p.targets.map(\.value)) {
                if let f = byKey[h.name + "\u{0}" + p.id] {
                    results.append(HostScanResult(host: h.name, procedure: p.id, version: f.version))
                } else {
                    results.append(
                        HostScanResult(
                            host: h.name, procedure: p.id,
                            error: APIError(.unavailable, "detect did not answer with a version")))
                }
            }
        }
        return HostScanResponse(results: results)
    }
}

extension ErrorKind {
    /// The wire kind of a refusal of the engine, state machine, planner or store. Exhaustive: an answer added
    /// to `ITVErrorKind.Answer` does not compile until it has its wire kind.
    init(_ answer: ITVErrorKind.Answer) {
        switch answer {
        case .invalidRequest: self = .invalidRequest
        case .permissionDenied: self = .permissionDenied
        case .notFound: self = .notFound
        case .conflict: self = .conflict
        case .planChanged: self = .planChanged
        case .alreadyApproved: self = .alreadyApproved
        case .artifactRejected: self = .artifactRejected
        case .unavailable: self = .unavailable
        case .internal: self = .internal
        }
    }
}
