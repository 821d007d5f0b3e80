import ITVProtocol

/// The tenants (municipalities) whose hosts a caller may see or change.
public enum TenantScope: Hashable, Sendable {
    /// Every tenant: root, and the global `readers:`/`operators:` of itvd.yaml.
    case all
    /// Only these tenants (ids): members of a tenant's `readers:`/`operators:` in the inventory.
    case only(Set<String>)

    public func contains(_ tenant: String) -> Bool {
        switch self {
        case .all: return true
        case .only(let tenants): return tenants.contains(tenant)
        }
    }

    public var isAll: Bool { self == .all }

    /// No tenant at all.
    public var isEmpty: Bool { self == .only([]) }

    /// The tenant ids, sorted, for messages ("all tenants" for `.all`).
    public var description: String {
        switch self {
        case .all: return "all tenants"
        case .only(let tenants): return tenants.isEmpty ? "no tenant" : tenants.sorted().joined(separator: ", ")
        }
    }
}

/// Who sent a control request, from the socket's peer credentials (SO_PEERCRED), resolved by the server.
public struct Caller: Hashable, Sendable {
    /// The Unix user name (`uid:1234` when the uid has no passwd entry).
    public var user: String
    public var uid: UInt32
    /// Primary group id.
    public var gid: UInt32
    /// Names of the primary and supplementary groups.
    public var groups: [String]
    /// Root, or a member of a global operator group: may change things of every tenant.
    public var mayChange: Bool
    /// Tenants whose hosts the caller sees: `.all` for root and global readers and operators.
    public var reads: TenantScope
    /// Tenants whose hosts the caller may change: `.all` when `mayChange`, else the tenants whose
    /// `operators:` it is a member of (possibly none).
    public var operates: TenantScope

    public init(
        user: String, uid: UInt32, gid: UInt32, groups: [String], mayChange: Bool, reads: TenantScope = .all,
        operates: TenantScope? = nil
    ) {
        self.user = user
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.mayChange = mayChange
        self.reads = mayChange ? .all : reads
        self.operates = mayChange ? .all : (operates ?? .only([]))
    }

    /// A tenant operator (not a global one): may use the change routes that concern hosts, for its tenants.
    public var operatesSomeTenants: Bool { !mayChange && !operates.isEmpty }
}

/// What the control socket asks of the engine: one method per route of `ITVProtocol.Route`.
///
/// The server has already authorized the caller for the route (reads need a reader or operator, changes
/// an operator or root) and decoded the request; the service checks everything else and throws
/// `APIError` (`not_found`, `conflict`, `plan_changed`, `invalid_request`, ...) with a message that says
/// what cannot be done and why. Every change is audited (and journaled) by the service with the caller's
/// user and uid.
public protocol ControlService: Sendable {
    func status(caller: Caller) async throws -> StatusResponse

    func procedureList(caller: Caller) async throws -> ProcedureListResponse
    func procedureShow(caller: Caller, id: String) async throws -> ProcedureDetail
    func releaseList(caller: Caller, _ request: ReleaseListRequest) async throws -> ReleaseListResponse
    func feedCheck(caller: Caller, _ request: FeedCheckRequest) async throws -> FeedCheckResponse
    func hostList(caller: Caller, _ request: HostListRequest) async throws -> HostListResponse
    func hostScan(caller: Caller, _ request: HostScanRequest) async throws -> HostScanResponse

    /// A preview: nothing is created.
    func rolloutPlan(caller: Caller, procedure: String, _ request: RolloutPlanRequest) async throws
        -> RolloutPlanResponse
    func rolloutStart(caller: Caller, _ request: RolloutStartRequest) async throws -> RolloutActionResponse
    func rolloutList(caller: Caller, _ request: RolloutListRequest) async throws -> RolloutListResponse
    func rolloutShow(caller: Caller, id: Int64) async throws -> RolloutDetail
    /// Throws `plan_changed` when `request.planHash` is not the rollout's plan, `conflict` when the wave
    /// `request.wave` is not the one waiting, `already_approved` when this user already approved it (four
    /// eyes).
    func rolloutApprove(caller: Caller, id: Int64, _ request: ApproveRequest) async throws -> RolloutActionResponse
    func rolloutPause(caller: Caller, id: Int64, _ request: RolloutControlRequest) async throws
        -> RolloutActionResponse
    func rolloutResume(caller: Caller, id: Int64, _ request: RolloutControlRequest) async throws
        -> RolloutActionResponse
    func rolloutAbort(caller: Caller, id: Int64, _ request: RolloutControlRequest) async throws
        -> RolloutActionResponse
    func rolloutRollback(caller: Caller, id: Int64, _ request: RolloutControlRequest) async throws
        -> RolloutActionResponse
    func rolloutRetry(caller: Caller, id: Int64, _ request: HostActionRequest) async throws -> RolloutActionResponse
    func rolloutSkip(caller: Caller, id: Int64, _ request: HostActionRequest) async throws -> RolloutActionResponse
    /// Progress of one rollout for `rollout watch`: first a `snapshot` event, then each change. Throws
    /// `not_found` for an unknown rollout. The server stops reading after an event whose rollout is final
    /// or waits for a person (`RolloutEvent.endsWatch`), and when the client goes away.
    func events(caller: Caller, rollout id: Int64) async throws -> AsyncStream<RolloutEvent>

    func windowList(caller: Caller) async throws -> WindowListResponse
    func windowOpen(caller: Caller, name: String, _ request: WindowOpenRequest) async throws -> WindowActionResponse
    func windowClose(caller: Caller, name: String, _ request: WindowCloseRequest) async throws
        -> WindowActionResponse
    /// Re-reads playbooks and inventory (as SIGHUP). Problems keep the last good set (`ok` false).
    func reload(caller: Caller) async throws -> ReloadResponse
    func audit(caller: Caller, _ request: AuditRequest) async throws -> AuditResponse

    /// A request the server refused because the caller lacks the access `route` needs: the service audits
    /// it (`permission.denied`, outcome `denied`) and journals it with the user and uid. Not called for
    /// requests refused before authorization could be decided (malformed HTTP).
    func recordDenied(caller: Caller, route: String) async
    /// A request refused as `tenant_forbidden` (`reason` is the refusal's message): audited like
    /// `recordDenied`, with the reason as the comment.
    func recordDenied(caller: Caller, route: String, reason: String) async

    /// The Prometheus text exposition of the daemon's state and counters (`GET /v1/metrics`).
    func metrics(caller: Caller) async throws -> String
    /// One page of a tenant's report (`itvctl report`); `tenant_forbidden` for a tenant the caller does not read.
    func report(caller: Caller, _ request: ReportRequest) async throws -> ReportResponse
    /// Every notification sink with its outbox counts and last error.
    func notifyList(caller: Caller) async throws -> NotifyListResponse
    /// Sends a test notification to the sink now; `ok` false with the error when the sink refused it.
    func notifyTest(caller: Caller, name: String) async throws -> NotifyTestResponse
    /// The artifact records (verified and rejected releases) and the cache's use (`itvctl artifact list`).
    func artifactList(caller: Caller, _ request: ArtifactListRequest) async throws -> ArtifactListResponse
}

extension ControlService {
    public func recordDenied(caller: Caller, route: String, reason: String) async {
        await recordDenied(caller: caller, route: route)
    }

    public func metrics(caller: Caller) async throws -> String {
        throw APIError(.notFound, "this itvd exports no metrics")
    }

    public func notifyList(caller: Caller) async throws -> NotifyListResponse { NotifyListResponse(sinks: []) }

    public func report(caller: Caller, _ request: ReportRequest) async throws -> ReportResponse {
        throw APIError(.notFound, "this itvd makes no reports")
    }

    public func notifyTest(caller: Caller, name: String) async throws -> NotifyTestResponse {
        throw APIError(.notFound, "no notify sink \(name)")
    }
}
