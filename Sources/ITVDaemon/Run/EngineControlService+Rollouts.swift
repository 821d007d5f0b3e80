import Foundation
import ITVControlServer
import ITVCore
import ITVEngine
import ITVProtocol

// Rollouts, windows, reload, audit.
extension EngineControlService {
    func info(_ s: RolloutSnapshot) -> RolloutInfo {
        RolloutInfo(s.rollout, waveCount: s.waves.count, hostRuns: s.hostRuns)
    }

    func waveName(_ s: RolloutSnapshot, _ i: Int) -> String {
        "wave \(i + 1) (\(s.waves.indices.contains(i) ? s.waves[i].name : "?"))"
    }

    /// The version to roll out: the one asked for, else the newest release seen in the feed.
    func version(for procedure: String, _ asked: String?) async throws -> String {
        if let asked { return asked }
        let set = await engine.set
        let scheme = set.playbooks.first { $0.id == procedure }?.feed?.scheme ?? .dotted
        guard let latest = Self.latest(try await store.releases(procedure: procedure), scheme: scheme) else {
            throw APIError(.invalidRequest, "no release of \(procedure) has been seen yet; give --version")
        }
        return latest
    }

    func rolloutPlan(caller: Caller, procedure: String, _ request: RolloutPlanRequest) async throws
        -> RolloutPlanResponse
    {
        let version = try await version(for: procedure, request.version)
        let plan = RolloutPlanResponse(try await call { try await engine.plan(procedure: procedure, version: version) })
        return scoped(plan, hostFilter(caller, await engine.set))
    }

    func rolloutStart(caller: Caller, _ request: RolloutStartRequest) async throws -> RolloutActionResponse {
        let version = try await version(for: request.procedure, request.version)
        if !caller.mayChange {
            let plan = try await call { try await engine.plan(procedure: request.procedure, version: version) }
            try await requireOperates(
                caller, .rolloutStart, hosts: plan.waves.flatMap(\.hosts), "a rollout of \(request.procedure)")
        }
        let s = try await call {
            try await engine.createRollout(
                procedure: request.procedure, version: version, by: requester(caller), comment: request.comment)
        }
        return RolloutActionResponse(
            rollout: info(s),
            message: "rollout \(s.rollout.id) started: \(s.rollout.procedure) to \(s.rollout.version), "
                + "\(s.hostRuns.count) hosts in \(s.waves.count) waves")
    }

    func rolloutList(caller: Caller, _ request: RolloutListRequest) async throws -> RolloutListResponse {
        let visible = hostFilter(caller, await engine.set)
        if !request.all {
            return RolloutListResponse(
                rollouts: await engine.activeSnapshots().compactMap { scoped($0, visible) }.map(info).sorted {
                    $0.id > $1.id
                })
        }
        // One page, newest first: the records are small; whole snapshots (with their host runs) are read one
        // at a time for the page only, so a request costs memory by its page, not by the store's history.
        let limit = request.limit ?? RolloutListRequest.defaultLimit
        // A tenant reader's page holds the rollouts with hosts of its tenants only: the page may come out shorter
        // than `limit` (the cursor stays that of the rollouts looked at, so no rollout is skipped).
        let older = try await store.rollouts(includeFinished: true, limit: Int.max)
            .filter { r in request.before.map { r.id < $0 } ?? true }
            .sorted { $0.id > $1.id }
        let page = older.prefix(limit)
        var infos: [RolloutInfo] = []
        for r in page {
            if let s = try await store.rollout(id: r.id).flatMap({ scoped($0, visible) }) { infos.append(info(s)) }
        }
        // Active rollouts: the live state is newer than the store's only by what is being committed.
        for live in await engine.activeSnapshots() {
            if let i = infos.firstIndex(where: { $0.id == live.rollout.id }), let cut = scoped(live, visible) {
                infos[i] = info(cut)
            }
        }
        return RolloutListResponse(rollouts: infos, nextBefore: older.count > page.count ? page.last?.id : nil)
    }

    func rolloutShow(caller: Caller, id: Int64) async throws -> RolloutDetail {
        let s = try await call { try await engine.snapshot(id) }
        var detail = RolloutDetail(try await readable(caller, .rolloutShow, s))
        detail.artifact = await engine.artifact(procedure: detail.rollout.procedure, version: detail.rollout.version)
            .map(PlanArtifactInfo.init)
        return detail
    }

    func rolloutApprove(caller: Caller, id: Int64, _ request: ApproveRequest) async throws -> RolloutActionResponse {
        if !caller.mayChange {
            // A wave is approved by a global operator, or by an operator of the tenant of every host in it.
            let current = try await call { try await engine.snapshot(id) }
            try await requireOperates(
                caller, .rolloutApprove, hosts: current.hostRuns.filter { $0.wave == request.wave }.map(\.host),
                "\(waveName(current, request.wave)) of rollout \(id)")
        }
        let s = try await call {
            try await engine.approve(
                id, wave: request.wave, planHash: request.planHash, comment: request.comment, by: requester(caller))
        }
        let wave = request.wave
        let given = s.approvals.filter {
            $0.wave == wave && $0.source == .operator && $0.planHash == s.rollout.planHash
        }
        let needed = s.waves.indices.contains(wave) ? s.waves[wave].approvalsNeeded : 1
        let state = given.count >= needed ? "it starts" : "\(given.count) of \(needed) approvals"
        return RolloutActionResponse(
            rollout: info(s), message: "\(waveName(s, wave)) of rollout \(id) approved by \(caller.user): \(state)")
    }

    func control(
        _ caller: Caller, _ id: Int64, _ verb: String, _ route: Route, host: String? = nil,
        _ op: (Requester) async throws -> RolloutSnapshot
    ) async throws -> RolloutActionResponse {
        if !caller.mayChange {
            // The whole rollout, or the one host: every host concerned must be of a tenant the caller operates.
            if let host {
                try await requireOperates(caller, route, hosts: [host], "host \(host)")
            } else {
                let current = try await call { try await engine.snapshot(id) }
                try await requireOperates(caller, route, hosts: current.hostRuns.map(\.host), "rollout \(id)")
            }
        }
        let s = try await call { try await op(requester(caller)) }
        return RolloutActionResponse(
            rollout: info(s), message: "rollout \(id) \(verb) by \(caller.user): now \(s.rollout.phase.rawValue)")
    }

    func rolloutPause(caller: Caller, id: Int64, _ request: RolloutControlRequest) async throws -> RolloutActionResponse
    {
        try await control(caller, id, "paused", .rolloutPause) {
            try await engine.pause(id, by: $0, reason: request.reason)
        }
    }

    func rolloutResume(caller: Caller, id: Int64, _ request: RolloutControlRequest) async throws
        -> RolloutActionResponse
    {
        try await control(caller, id, "resumed", .rolloutResume) {
            try await engine.resume(id, by: $0, reason: request.reason)
        }
    }

    func rolloutAbort(caller: Caller, id: Int64, _ request: RolloutControlRequest) async throws -> RolloutActionResponse
    {
        try await control(caller, id, "aborted", .rolloutAbort) {
            try await engine.abort(id, by: $0, reason: request.reason)
        }
    }

    func rolloutRollback(caller: Caller, id: Int64, _ request: RolloutControlRequest) async throws
        -> RolloutActionResponse
    {
        try await control(caller, id, "rolling back", .rolloutRollback) {
            try await engine.rollback(id, by: $0, reason: request.reason)
        }
    }

    func rolloutRetry(caller: Caller, id: Int64, _ request: HostActionRequest) async throws -> RolloutActionResponse {
        try await control(caller, id, "retrying \(request.host)", .rolloutRetry, host: request.host) {
            try await engine.retry(id, host: request.host, by: $0, comment: request.comment)
        }
    }

    func rolloutSkip(caller: Caller, id: Int64, _ request: HostActionRequest) async throws -> RolloutActionResponse {
        try await control(caller, id, "skipping \(request.host)", .rolloutSkip, host: request.host) {
            try await engine.skip(id, host: request.host, by: $0, comment: request.comment)
        }
    }

    /// A snapshot event, then one event per changed record, until the rollout ends or waits for a person.
    /// Events are made when the client takes them: one that reads slowly gets the net change since what it
    /// saw (the engine keeps the newest 16 snapshots), never an unbounded backlog.
    func events(caller: Caller, rollout id: Int64) async throws -> AsyncStream<ITVProtocol.RolloutEvent> {
        let visible = hostFilter(caller, await engine.set)
        if visible != nil {
            _ = try await readable(caller, .rolloutEvents, try await call { try await engine.snapshot(id) })
        }
        let source = WatchEventSource(
            updates: try await call { try await engine.updates(id) }, clock: clock, visible: visible)
        return AsyncStream(unfolding: { await source.next() })
    }

    // MARK: Windows, reload, audit

    func windowInfo(_ name: String) async -> WindowInfo? {
        guard let w = await engine.windowList().first(where: { $0.spec.name == name }) else { return nil }
        return WindowInfo(w.spec, record: w.record, now: clock.now())
    }

    func windowList(caller: Caller) async throws -> WindowListResponse {
        let now = clock.now()
        let inventory = await engine.set.inventory
        return WindowListResponse(
            windows: await engine.windowList().map {
                var info = WindowInfo($0.spec, record: $0.record, now: now)
                let served = inventory.tenants(servedBy: $0.spec.name)
                info.tenants = served.isEmpty ? nil : served
                return info
            })
    }

    func windowOpen(caller: Caller, name: String, _ request: WindowOpenRequest) async throws -> WindowActionResponse {
        if let s = request.durationSeconds, s < 60 || s > TimeSpan.maximum.seconds {
            throw APIError(.invalidRequest, "a window opens for 1m to 366d, not \(s) seconds")
        }
        try await requireOperatesWindow(caller, .windowOpen, name)
        let record = try await call {
            try await engine.openWindow(
                name, duration: request.durationSeconds.map { TimeSpan(seconds: $0) }, by: requester(caller),
                comment: request.comment)
        }
        guard let info = await windowInfo(name) else { throw APIError(.notFound, "no window \(name)") }
        let until = Date(timeIntervalSince1970: Double(record.openUntil ?? 0) / 1000)
        return WindowActionResponse(
            window: info, message: "window \(name) open until \(until) (opened by \(caller.user))")
    }

    func windowClose(caller: Caller, name: String, _ request: WindowCloseRequest) async throws -> WindowActionResponse {
        try await requireOperatesWindow(caller, .windowClose, name)
        _ = try await call { try await engine.closeWindow(name, by: requester(caller), comment: request.comment) }
        guard let info = await windowInfo(name) else { throw APIError(.notFound, "no window \(name)") }
        return WindowActionResponse(window: info, message: "window \(name) closed by \(caller.user)")
    }

    func reload(caller: Caller) async throws -> ReloadResponse { await hooks.reload(by: requester(caller)) }

    /// One page, newest entries first chosen, bounded in entries and bytes (see `AuditRequest`).
    func audit(caller: Caller, _ request: AuditRequest) async throws -> AuditResponse {
        let limit = min(max(request.limit ?? AuditRequest.defaultLimit, 1), AuditRequest.maxLimit)
        let page = try await store.auditPage(
            since: request.since, before: request.before, limit: limit, maxBytes: AuditRequest.pageBytes)
        // A tenant reader's page is the same page cut to what concerns its tenants (it may come out shorter).
        return AuditResponse(
            entries: try await auditFilter(caller, page.records).map(AuditEntry.init),
            nextBefore: page.more ? page.records.first?.id : nil)
    }

    /// Audits a refused request, at most `denials.burst` a minute per user (see `DenialLimiter`).
    func recordDenied(caller: Caller, route: String) async {
        await recordDenied(caller: caller, route: route, action: "permission.denied", reason: nil)
    }

    func recordDenied(caller: Caller, route: String, reason: String) async {
        await recordDenied(caller: caller, route: route, action: "tenant.forbidden", reason: reason)
    }

    private func recordDenied(caller: Caller, route: String, action: String, reason: String?) async {
        let now = clock.now()
        let decision = await denials.admit(uid: caller.uid, at: now)
        guard decision.record else { return }
        let more = decision.suppressedBefore
        let record = AuditRecord(
            at: now, user: caller.user, uid: caller.uid, action: action, target: route,
            comment: [
                reason,
                more > 0
                    ? "and \(more) more refused request(s) of this user not audited (at most \(denials.burst) a minute)"
                    : nil,
            ].compactMap { $0 }.joined(separator: "; ").nilIfEmpty,
            outcome: "denied")
        await engine.recordAuditOrLog(record)
    }
}

/// Turns a rollout's committed snapshots into watch events, one snapshot at a time, as they are asked for.
actor WatchEventSource {
    private var updates: AsyncStream<RolloutSnapshot>.AsyncIterator
    private let clock: any EngineClock
    private var last: RolloutDetail?
    private var pending: [ITVProtocol.RolloutEvent] = []

    /// The hosts a tenant reader sees (nil: all); the others are cut from every snapshot.
    private let visible: (@Sendable (String) -> Bool)?

    init(updates: AsyncStream<RolloutSnapshot>, clock: any EngineClock, visible: (@Sendable (String) -> Bool)? = nil) {
        self.updates = updates.makeAsyncIterator()
        self.clock = clock
        self.visible = visible
    }

    func next() async -> ITVProtocol.RolloutEvent? {
        while pending.isEmpty {
            // The iterator is a handle to the stream's shared state: advancing a copy advances the stream.
            var iterator = updates
            let next = await iterator.next(isolation: self)
            updates = iterator
            guard var snapshot = next else { return nil }
            if let visible { snapshot.hostRuns = snapshot.hostRuns.filter { visible($0.host) } }
            let detail = RolloutDetail(snapshot)
            if let previous = last {
                pending = detail.events(since: previous, at: clock.now())
            } else {
                pending = [.snapshot(detail, at: clock.now())]
            }
            last = detail
        }
        return pending.removeFirst()
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
