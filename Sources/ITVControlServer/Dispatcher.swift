import Foundation
import ITVCore
import ITVProtocol
import NIOCore

/// What the server sends back for one request.
enum Reply: Sendable {
    /// A JSON document (newline-terminated) with an HTTP status.
    case json(status: Int, body: ByteBuffer)
    /// A text document (the metrics exposition) with its content type, status 200.
    case text(contentType: String, body: String)
    /// NDJSON events until the stream ends or an event ends the watch.
    case events(AsyncStream<RolloutEvent>)

    static func error(_ error: APIError) -> Reply {
        let body = (try? ITVJSON.encode(ErrorBody(error))) ?? Data(#"{"error":{"kind":"internal","message":""}}"#.utf8)
        return .json(status: error.kind.httpStatus, body: document(body))
    }

    /// The encoded document and a newline, in the buffer the channel sends (one copy, and the encoded
    /// `Data` is gone when this returns: a large answer is held once, not twice).
    static func document(_ data: Data) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: data.count + 1)
        buffer.writeBytes(data)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }
}

/// A request head the caller may send: its route and the caller with its rights.
struct AuthorizedRequest: Sendable {
    var match: RouteMatch
    var caller: Caller
}

/// Authorizes a request and maps it onto the `ControlService` method of its route.
///
/// Authorization needs only the request head, and happens before the body is read: a caller who may not
/// use a route is refused without the server taking (and holding) what it sends. Each request is decided by
/// the `AuthorizationPolicy` in force when its head arrived (a reload replaces it).
struct Dispatcher: Sendable {
    let service: any ControlService
    let authorization: Authorization

    /// The route and caller of a request head, or the error to answer (a refusal is audited).
    func authorize(method: String, target: String, protocolVersion: String?, peer: PeerIdentity) async
        -> Result<AuthorizedRequest, APIError>
    {
        if let version = protocolVersion, version != ITVProtocolVersion.current {
            return .failure(
                APIError(
                    .protocolMismatch,
                    "this itvd speaks control protocol \(ITVProtocolVersion.current), the client speaks "
                        + "\(escapedForMessage(version, limit: 4_096)); use an itvctl of the same release as itvd"))
        }
        let policy = authorization.current
        let caller = policy.caller(peer)
        guard policy.mayRead(peer) else {
            let name =
                (try? RouteMatch.resolve(method: method, target: target).route.rawValue)
                ?? escapedForMessage(method + " " + target, limit: 200)
            await service.recordDenied(caller: caller, route: name)
            return .failure(
                APIError(
                    .permissionDenied,
                    "user \(caller.user) (uid \(caller.uid)) may not use itvd: reading needs root or membership in "
                        + groupList(policy.readerGroups + policy.operatorGroups)))
        }
        let match: RouteMatch
        do { match = try RouteMatch.resolve(method: method, target: target) } catch { return .failure(error) }
        if match.route.access == .change, !caller.mayChange, !caller.operatesSomeTenants {
            await service.recordDenied(caller: caller, route: match.route.rawValue)
            return .failure(
                APIError(
                    .permissionDenied,
                    "user \(caller.user) (uid \(caller.uid)) may read but not change (\(match.route.rawValue)): "
                        + "changes need root or membership in " + groupList(policy.operatorGroups)))
        }
        if !caller.mayChange, !Self.tenantRoutes.contains(match.route),
            match.route.access == .change || !caller.reads.isAll
        {
            // Routes that concern the whole daemon (or every tenant's hosts at once) are the cooperative's.
            let error = APIError(
                .tenantForbidden,
                "user \(caller.user) (uid \(caller.uid)) \(Self.describe(caller)); \(match.route.rawValue) concerns "
                    + "every tenant and needs a global "
                    + (match.route.access == .change ? "operator (" : "reader (")
                    + groupList(match.route.access == .change ? policy.operatorGroups : policy.readerGroups) + ")")
            await service.recordDenied(caller: caller, route: match.route.rawValue, reason: error.message)
            return .failure(error)
        }
        return .success(AuthorizedRequest(match: match, caller: caller))
    }

    /// The routes a tenant's readers and operators may use: the service limits each to their tenants' hosts
    /// (filtered answers; `tenant_forbidden` for changes that touch another tenant's hosts). The others
    /// (feed checks, scans of every host, reload, notification sinks) need a global reader or operator.
    static let tenantRoutes: Set<Route> = [
        .status, .procedureList, .procedureShow, .releaseList, .hostList, .rolloutPlan, .rolloutStart, .rolloutList,
        .rolloutShow, .rolloutApprove, .rolloutPause, .rolloutResume, .rolloutAbort, .rolloutRollback, .rolloutRetry,
        .rolloutSkip, .rolloutEvents, .windowList, .windowOpen, .windowClose, .audit, .metrics, .report, .artifactList,
    ]

    /// "operates tenant egling", "reads tenants a, b", for refusals.
    static func describe(_ caller: Caller) -> String {
        if caller.operatesSomeTenants {
            return "operates only tenant(s) \(caller.operates.description)"
                + (caller.reads == caller.operates ? "" : " and reads \(caller.reads.description)")
        }
        return "reads only tenant(s) \(caller.reads.description)"
    }

    /// Answers an authorized request with its body.
    func answer(_ request: AuthorizedRequest, body: Data) async -> Reply {
        do {
            return try await call(request.match, body, request.caller)
        } catch let error as APIError {
            return .error(error)
        } catch {
            return .error(APIError(.internal, "the daemon failed to answer: \(error)"))
        }
    }

    // One case per route; `reply` encodes with status 200.
    private func call(_ match: RouteMatch, _ body: Data, _ caller: Caller) async throws -> Reply {
        let s = service
        let q = match.query
        switch match.route {
        case .status: return try reply(await s.status(caller: caller))
        case .procedureList: return try reply(await s.procedureList(caller: caller))
        case .procedureShow: return try reply(await s.procedureShow(caller: caller, id: try name(match, "id")))
        case .releaseList: return try reply(await s.releaseList(caller: caller, ReleaseListRequest(query: q)))
        case .feedCheck:
            var request: FeedCheckRequest = try decode(body)
            var seen = Set<String>()
            request.procedures = request.procedures.filter { seen.insert($0).inserted }  // each polled once
            return try reply(await s.feedCheck(caller: caller, request))
        case .hostList: return try reply(await s.hostList(caller: caller, HostListRequest(query: q)))
        case .hostScan: return try reply(await s.hostScan(caller: caller, try decode(body)))
        case .rolloutPlan:
            let procedure = try name(match, "id")
            return try reply(await s.rolloutPlan(caller: caller, procedure: procedure, RolloutPlanRequest(query: q)))
        case .rolloutStart: return try reply(await s.rolloutStart(caller: caller, try decode(body)))
        case .rolloutList: return try reply(await s.rolloutList(caller: caller, try RolloutListRequest(query: q)))
        case .rolloutShow: return try reply(await s.rolloutShow(caller: caller, id: try rolloutID(match)))
        case .rolloutApprove:
            return try reply(await s.rolloutApprove(caller: caller, id: try rolloutID(match), try decode(body)))
        case .rolloutPause:
            return try reply(await s.rolloutPause(caller: caller, id: try rolloutID(match), try decode(body)))
        case .rolloutResume:
            return try reply(await s.rolloutResume(caller: caller, id: try rolloutID(match), try decode(body)))
        case .rolloutAbort:
            return try reply(await s.rolloutAbort(caller: caller, id: try rolloutID(match), try decode(body)))
        case .rolloutRollback:
            return try reply(await s.rolloutRollback(caller: caller, id: try rolloutID(match), try decode(body)))
        case .rolloutRetry:
            return try reply(await s.rolloutRetry(caller: caller, id: try rolloutID(match), try decode(body)))
        case .rolloutSkip:
            return try reply(await s.rolloutSkip(caller: caller, id: try rolloutID(match), try decode(body)))
        case .rolloutEvents: return .events(try await s.events(caller: caller, rollout: try rolloutID(match)))
        case .windowList: return try reply(await s.windowList(caller: caller))
        case .windowOpen:
            return try reply(await s.windowOpen(caller: caller, name: try name(match, "name"), try decode(body)))
        case .windowClose:
            return try reply(await s.windowClose(caller: caller, name: try name(match, "name"), try decode(body)))
        case .reload:
            let _: ReloadRequest = try decode(body)
            return try reply(await s.reload(caller: caller))
        case .audit: return try reply(await s.audit(caller: caller, try AuditRequest(query: q)))
        case .metrics:
            return .text(contentType: ITVProtocolVersion.metricsContentType, body: try await s.metrics(caller: caller))
        case .notifyList: return try reply(await s.notifyList(caller: caller))
        case .report: return try reply(await s.report(caller: caller, try ReportRequest(query: q)))
        case .artifactList:
            return try reply(await s.artifactList(caller: caller, try ArtifactListRequest(query: q)))
        case .notifyTest:
            let name = try name(match, "name")
            let _: NotifyTestRequest = try decode(body)
            return try reply(await s.notifyTest(caller: caller, name: name))
        }
    }

    private func reply<T: Encodable>(_ value: T) throws -> Reply {
        .json(status: 200, body: Reply.document(try ITVJSON.encode(value)))
    }

    private func groupList(_ groups: [String]) -> String {
        groups.isEmpty
            ? "a configured group (none are configured)" : "one of the groups " + groups.joined(separator: ", ")
    }

    private func name(_ match: RouteMatch, _ key: String) throws(APIError) -> String {
        guard let value = match.parameters[key], !value.isEmpty, value.unicodeScalars.count <= 256,
            value.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
        else {
            throw APIError(.invalidRequest, "\(key) must be 1 to 256 printable characters")
        }
        return value
    }

    private func rolloutID(_ match: RouteMatch) throws(APIError) -> Int64 {
        let text = match.parameters["id"] ?? ""
        guard let id = Int64(text), id > 0 else {
            throw APIError(
                .invalidRequest, "a rollout id is a positive number, not '\(escapedForMessage(text, limit: 64))'")
        }
        return id
    }

    /// Decodes a JSON body (an empty body counts as `{}`) and checks it against the request bounds.
    private func decode<T: BoundedRequest>(_ body: Data) throws(APIError) -> T {
        let data = body.isEmpty ? Data("{}".utf8) : body
        let value: T
        do {
            value = try ITVJSON.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw APIError(.invalidRequest, "the request body is not a valid \(T.self): \(Self.describe(error))")
        } catch {
            throw APIError(.invalidRequest, "the request body is not valid JSON: \(error)")
        }
        try value.checkBounds()
        return value
    }

    /// `planHash` -> `plan_hash`: coding paths name Swift properties, the client wrote JSON keys.
    static func snakeCase(_ key: String) -> String {
        var out = ""
        for ch in key {
            if ch.isUppercase {
                out += "_" + ch.lowercased()
            } else {
                out.append(ch)
            }
        }
        return out
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.isEmpty
                ? "the document"
                : keys.map { $0.intValue.map { "[\($0)]" } ?? snakeCase($0.stringValue) }
                    .joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field \(path(context.codingPath + [key]))"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)) must be \(type)"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)) must be \(type), not null"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "\(path(context.codingPath)) is invalid"
        @unknown default:
            return "\(error)"
        }
    }
}
