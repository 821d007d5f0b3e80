import Foundation
import ITVControlServer
import ITVProtocol
import Synchronization

/// A ControlService for the socket tests: fixed data, counts every call per route, records denials.
/// Rollout 12 waits for approval of wave 2; its events end there. Rollout 13 succeeds; rollout 14 fails.
final class FakeControlService: ControlService {
    struct Denial: Hashable {
        var user: String
        var uid: UInt32
        var route: String
    }

    private let state = Mutex<(calls: [Route: Int], callers: [String], denials: [Denial])>(([:], [], []))
    /// Watch streams of rollout 15 (which never ends) that were cancelled.
    let endedWatches = Mutex(0)
    /// How many entries the audit trail holds (a large answer for the slow-reader test). Without `limit` and
    /// `before`, `audit` answers with all of them; with either, one page of at most `limit` (default 1,000).
    let auditEntries = Mutex(1)
    /// Users (uids) who approved wave 2 of rollout 12: a second approval by one of them is `already_approved`.
    let approvers = Mutex<Set<UInt32>>([])
    /// The procedures of the last feed check.
    let lastFeedCheck = Mutex<[String]>([])
    static let planHash = "5f1c8a0d0c3b7e4e6b9a2d1f0e8c7b6a5f4e3d2c1b0a99887766554433221100"
    static let t0: Int64 = 1_790_000_000_000

    func calls(_ route: Route) -> Int { state.withLock { $0.calls[route] ?? 0 } }
    var totalCalls: Int { state.withLock { $0.calls.values.reduce(0, +) } }
    var denials: [Denial] { state.withLock { $0.denials } }
    var callers: [String] { state.withLock { $0.callers } }

    private func count(_ route: Route, _ caller: Caller) {
        state.withLock {
            $0.calls[route, default: 0] += 1
            $0.callers.append(caller.user)
        }
    }

    func recordDenied(caller: Caller, route: String) async {
        state.withLock { $0.denials.append(Denial(user: caller.user, uid: caller.uid, route: route)) }
    }

    // MARK: Data

    static func rollout(_ id: Int64, phase: RolloutInfo.Phase, wave: Int) -> RolloutInfo {
        RolloutInfo(
            id: id, procedure: "firefox-esr", version: "128.5.0", phase: phase, currentWave: wave, waveCount: 2,
            planHash: planHash, createdAt: t0, createdBy: "alice", updatedAt: t0 + 60_000,
            hostCounts: ["succeeded": 1, "pending": 2])
    }

    static func detail(_ id: Int64, phase: RolloutInfo.Phase, wave: Int) -> RolloutDetail {
        RolloutDetail(
            rollout: rollout(id, phase: phase, wave: wave),
            waves: [
                WaveInfo(
                    index: 0, name: "canary", approval: .auto, approvalsNeeded: 0, bakeSeconds: 0,
                    phase: wave > 0 ? .done : .running, hosts: ["ws-it-01"]),
                WaveInfo(
                    index: 1, name: "pilot", approval: .operator, approvalsNeeded: 2, bakeSeconds: 7_200,
                    phase: wave > 0 ? .waitingApproval : .pending, hosts: ["ws-fin-01", "ws-fin-02"]),
            ],
            approvals: [],
            hostRuns: [
                HostRunInfo(host: "ws-it-01", wave: 0, phase: wave > 0 ? .succeeded : .running, updatedAt: t0),
                HostRunInfo(host: "ws-fin-01", wave: 1, phase: .pending, updatedAt: t0),
                HostRunInfo(host: "ws-fin-02", wave: 1, phase: .pending, updatedAt: t0),
            ])
    }

    private func knownRollout(_ id: Int64) throws -> RolloutDetail {
        switch id {
        case 12: return Self.detail(12, phase: .waitingApproval, wave: 1)
        case 13: return Self.detail(13, phase: .succeeded, wave: 1)
        case 14: return Self.detail(14, phase: .failed, wave: 1)
        default: throw APIError(.notFound, "no rollout \(id)")
        }
    }

    private func action(_ id: Int64, _ message: String) throws -> RolloutActionResponse {
        RolloutActionResponse(rollout: try knownRollout(id).rollout, message: message)
    }

    // MARK: Routes

    func status(caller: Caller) async throws -> StatusResponse {
        count(.status, caller)
        return StatusResponse(
            daemonVersion: "0.1.0", startedAt: Self.t0, now: Self.t0 + 3_600_000, procedures: 300, hosts: 800,
            tenants: 12, activeRollouts: 1, openWindows: ["evening"],
            attention: [Self.rollout(12, phase: .waitingApproval, wave: 1)])
    }

    func procedureList(caller: Caller) async throws -> ProcedureListResponse {
        count(.procedureList, caller)
        return ProcedureListResponse(procedures: [procedure])
    }

    private var procedure: ProcedureInfo {
        ProcedureInfo(
            id: "firefox-esr", name: "Mozilla Firefox ESR", vendor: "Mozilla", targets: ["workstations"],
            hostCount: 3, scheme: "dotted", feedKind: "json", feedUrl: "https://vendor.example/ff.json",
            latestRelease: "128.5.0", deployed: [VersionCount(version: "128.4.0", hosts: 3)])
    }

    func procedureShow(caller: Caller, id: String) async throws -> ProcedureDetail {
        count(.procedureShow, caller)
        guard id == "firefox-esr" else { throw APIError(.notFound, "no procedure \(id)") }
        return ProcedureDetail(
            procedure: procedure, waves: plan.waves,
            releases: [ReleaseInfo(procedure: id, version: "128.5.0", firstSeenAt: Self.t0, feedUrl: "https://v")],
            hosts: [
                InstalledVersion(host: "ws-it-01", procedure: id, version: "128.4.0", seenAt: Self.t0, current: false)
            ],
            rollouts: [Self.rollout(12, phase: .waitingApproval, wave: 1)])
    }

    func releaseList(caller: Caller, _ request: ReleaseListRequest) async throws -> ReleaseListResponse {
        count(.releaseList, caller)
        // A hostile feed: the version carries an escape sequence that clears the screen.
        return ReleaseListResponse(releases: [
            ReleaseInfo(procedure: "firefox-esr", version: "128.5.0", firstSeenAt: Self.t0, feedUrl: "https://v"),
            ReleaseInfo(procedure: "evil", version: "1.0\u{1b}[2J", firstSeenAt: Self.t0, feedUrl: "https://e"),
        ])
    }

    func feedCheck(caller: Caller, _ request: FeedCheckRequest) async throws -> FeedCheckResponse {
        count(.feedCheck, caller)
        lastFeedCheck.withLock { $0 = request.procedures }
        return FeedCheckResponse(results: [FeedCheckResult(procedure: "firefox-esr", ok: true, latest: "128.5.0")])
    }

    func hostList(caller: Caller, _ request: HostListRequest) async throws -> HostListResponse {
        count(.hostList, caller)
        return HostListResponse(hosts: [
            HostInfo(
                name: "ws-it-01", address: "10.1.0.11", port: 22, tenant: "landratsamt", groups: ["workstations"],
                os: "linux",
                procedures: [
                    InstalledVersion(
                        host: "ws-it-01", procedure: "firefox-esr", version: "128.4.0", seenAt: Self.t0,
                        latest: "128.5.0", current: false)
                ])
        ])
    }

    func hostScan(caller: Caller, _ request: HostScanRequest) async throws -> HostScanResponse {
        count(.hostScan, caller)
        return HostScanResponse(results: [
            HostScanResult(host: "ws-it-01", procedure: "firefox-esr", version: "128.4.0")
        ])
    }

    private var plan: RolloutPlanResponse {
        let detail = Self.detail(12, phase: .planned, wave: 0)
        return RolloutPlanResponse(
            procedure: "firefox-esr", version: "128.5.0", planHash: Self.planHash, hostCount: 3,
            waves: detail.waves.map {
                PlanWaveInfo(
                    index: $0.index, name: $0.name, approval: $0.approval, approvalsNeeded: $0.approvalsNeeded,
                    bakeSeconds: $0.bakeSeconds, hosts: $0.hosts)
            })
    }

    func rolloutPlan(caller: Caller, procedure: String, _ request: RolloutPlanRequest) async throws
        -> RolloutPlanResponse
    {
        count(.rolloutPlan, caller)
        guard procedure == "firefox-esr" else { throw APIError(.notFound, "no procedure \(procedure)") }
        return plan
    }

    func rolloutStart(caller: Caller, _ request: RolloutStartRequest) async throws -> RolloutActionResponse {
        count(.rolloutStart, caller)
        return try action(12, "rollout 12 created: firefox-esr to 128.5.0")
    }

    func rolloutList(caller: Caller, _ request: RolloutListRequest) async throws -> RolloutListResponse {
        count(.rolloutList, caller)
        return RolloutListResponse(rollouts: [Self.rollout(12, phase: .waitingApproval, wave: 1)])
    }

    func rolloutShow(caller: Caller, id: Int64) async throws -> RolloutDetail {
        count(.rolloutShow, caller)
        return try knownRollout(id)
    }

    func rolloutApprove(caller: Caller, id: Int64, _ request: ApproveRequest) async throws -> RolloutActionResponse {
        count(.rolloutApprove, caller)
        let detail = try knownRollout(id)
        guard request.planHash == detail.rollout.planHash else {
            throw APIError(.planChanged, "the plan of rollout \(id) changed since you saw it; look again")
        }
        guard request.wave == detail.rollout.currentWave, detail.rollout.phase == .waitingApproval else {
            throw APIError(.conflict, "wave \(request.wave + 1) of rollout \(id) is not waiting for approval")
        }
        guard approvers.withLock({ $0.insert(caller.uid).inserted }) else {
            throw APIError(
                .alreadyApproved,
                "\(caller.user) already approved wave \(request.wave + 1) (pilot) of rollout \(id); it needs 2 "
                    + "different operators")
        }
        return try action(id, "wave \(request.wave + 1) (pilot) approved by \(caller.user): 1 of 2 approvals")
    }

    func rolloutPause(caller: Caller, id: Int64, _ request: RolloutControlRequest) async throws
        -> RolloutActionResponse
    {
        count(.rolloutPause, caller)
        return try action(id, "rollout \(id) paused")
    }

    func rolloutResume(caller: Caller, id: Int64, _ request: RolloutControlRequest) async throws
        -> RolloutActionResponse
    {
        count(.rolloutResume, caller)
        return try action(id, "rollout \(id) resumed")
    }

    func rolloutAbort(caller: Caller, id: Int64, _ request: RolloutControlRequest) async throws
        -> RolloutActionResponse
    {
        count(.rolloutAbort, caller)
        return try action(id, "rollout \(id) aborted")
    }

    func rolloutRollback(caller: Caller, id: Int64, _ request: RolloutControlRequest) async throws
        -> RolloutActionResponse
    {
        count(.rolloutRollback, caller)
        return try action(id, "rollout \(id) rolling back")
    }

    func rolloutRetry(caller: Caller, id: Int64, _ request: HostActionRequest) async throws -> RolloutActionResponse {
        count(.rolloutRetry, caller)
        return try action(id, "host \(request.host) of rollout \(id) will run again")
    }

    func rolloutSkip(caller: Caller, id: Int64, _ request: HostActionRequest) async throws -> RolloutActionResponse {
        count(.rolloutSkip, caller)
        return try action(id, "host \(request.host) of rollout \(id) skipped")
    }

    func events(caller: Caller, rollout id: Int64) async throws -> AsyncStream<RolloutEvent> {
        count(.rolloutEvents, caller)
        if id == 15 {
            return AsyncStream { continuation in
                continuation.yield(.snapshot(Self.detail(15, phase: .running, wave: 0), at: Self.t0))
                continuation.onTermination = { _ in self.endedWatches.withLock { $0 += 1 } }
            }
        }
        let final = try knownRollout(id)
        let t0 = Self.t0
        var events: [RolloutEvent] = [.snapshot(Self.detail(id, phase: .running, wave: 0), at: t0)]
        let hostPhase: HostRunInfo.Phase = final.rollout.phase == .failed ? .failed : .succeeded
        events.append(
            RolloutEvent(
                kind: .hostRun, at: t0 + 1,
                hostRun: HostRunInfo(
                    host: "ws-it-01", wave: 0, phase: hostPhase, step: .verify,
                    errorKind: hostPhase == .failed ? "exit_status" : nil,
                    error: hostPhase == .failed ? "verify exited 1: \u{1b}]0;pwned\u{07}" : nil, updatedAt: t0 + 1)))
        events.append(RolloutEvent(kind: .wave, at: t0 + 2, wave: final.waves[0]))
        events.append(RolloutEvent(kind: .rollout, at: t0 + 3, rollout: final.rollout))
        // Never reached: the server stops after the event that ends the watch.
        events.append(RolloutEvent(kind: .rollout, at: t0 + 4, rollout: Self.rollout(id, phase: .running, wave: 1)))
        return AsyncStream { continuation in
            for event in events { continuation.yield(event) }
            continuation.finish()
        }
    }

    func windowList(caller: Caller) async throws -> WindowListResponse {
        count(.windowList, caller)
        return WindowListResponse(windows: [
            WindowInfo(name: "evening", open: true, openUntil: Self.t0 + 14_400_000, defaultDurationSeconds: 14_400)
        ])
    }

    func windowOpen(caller: Caller, name: String, _ request: WindowOpenRequest) async throws -> WindowActionResponse {
        count(.windowOpen, caller)
        return WindowActionResponse(
            window: WindowInfo(name: name, open: true, openUntil: Self.t0, defaultDurationSeconds: 14_400),
            message: "window \(name) open for \(request.durationSeconds ?? 14_400) seconds")
    }

    func windowClose(caller: Caller, name: String, _ request: WindowCloseRequest) async throws
        -> WindowActionResponse
    {
        count(.windowClose, caller)
        return WindowActionResponse(
            window: WindowInfo(name: name, open: false, defaultDurationSeconds: 14_400),
            message: "window \(name) closed")
    }

    func reload(caller: Caller) async throws -> ReloadResponse {
        count(.reload, caller)
        return ReloadResponse(ok: true, procedures: 300, hosts: 800, problems: [], reloadedAt: Self.t0)
    }

    func notifyList(caller: Caller) async throws -> NotifyListResponse {
        count(.notifyList, caller)
        return NotifyListResponse(sinks: [
            NotifySinkInfo(
                name: "chat", kind: "webhook", target: "https://hooks.example/itv", events: ["wave.waiting"],
                pending: 2,
                failing: 1, lastError: "connection refused")
        ])
    }

    func notifyTest(caller: Caller, name: String) async throws -> NotifyTestResponse {
        count(.notifyTest, caller)
        return NotifyTestResponse(sink: name, ok: true, id: "0f1e", message: "delivered")
    }

    func artifactList(caller: Caller, _ request: ArtifactListRequest) async throws -> ArtifactListResponse {
        count(.artifactList, caller)
        let sha = String(repeating: "ab", count: 32)
        return ArtifactListResponse(
            artifacts: [
                ArtifactInfo(
                    procedure: "firefox-esr", version: "128.5.0", url: "https://v/ff-128.5.0.msi", state: "verified",
                    name: "ff-128.5.0.msi", size: 60_000_000, sha256: sha, verifiedBy: "sha256sum+gpg", cached: true,
                    recordedAt: Self.t0, keptBecause: "rollout 12"),
                // A hostile feed: the version carries an escape sequence.
                ArtifactInfo(
                    procedure: "evil", version: "1.0\u{1b}[2J", url: "https://e/x", state: "rejected", name: "x",
                    rejection: "checksum_mismatch", message: "bytes differ", expectedSha256: sha,
                    actualSha256: String(repeating: "cd", count: 32), cached: false, recordedAt: Self.t0),
            ], cacheBytes: 60_000_000, maxBytes: 20 << 30, total: 2)
    }

    func report(caller: Caller, _ request: ReportRequest) async throws -> ReportResponse {
        count(.report, caller)
        return ReportResponse(
            tenant: request.tenant, tenantName: "Gemeinde Egling an der Paar", generatedAt: Self.t0,
            sinceSeconds: request.sinceSeconds ?? ReportRequest.defaultSinceSeconds,
            rows: [ReportRow(host: "ws-eg-01", procedure: "firefox-esr", installed: "128.5.0", state: "current")])
    }

    func metrics(caller: Caller) async throws -> String {
        count(.metrics, caller)
        return "# HELP itv_build_info Always 1.\n# TYPE itv_build_info gauge\nitv_build_info{version=\"0.1.0\"} 1\n"
    }

    func audit(caller: Caller, _ request: AuditRequest) async throws -> AuditResponse {
        count(.audit, caller)
        let total = max(1, auditEntries.withLock { $0 })
        func entry(_ id: Int) -> AuditEntry {
            AuditEntry(
                id: Int64(id), at: Self.t0, user: "alice", uid: 1001, action: "rollout.start", target: "rollout 12",
                outcome: "ok")
        }
        guard request.limit != nil || request.before != nil else {
            return AuditResponse(entries: (1...total).map(entry))
        }
        let newest = min(total, Int(min(request.before ?? Int64(total + 1), Int64(total + 1))) - 1)
        let oldest = max(1, newest - (request.limit ?? AuditRequest.defaultLimit) + 1)
        guard newest >= 1 else { return AuditResponse(entries: []) }
        return AuditResponse(entries: (oldest...newest).map(entry), nextBefore: oldest > 1 ? Int64(oldest) : nil)
    }
}
