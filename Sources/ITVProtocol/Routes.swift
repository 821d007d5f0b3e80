import Foundation
import ITVCore

/// What a route needs from its caller.
public enum Access: String, Hashable, Sendable, Codable {
    /// Members of reader or operator groups, and root.
    case read
    /// Members of operator groups, and root.
    case change
}

/// Every route of the control socket. The raw value is the route's stable name (journal, audit, denials).
public enum Route: String, Hashable, Sendable, Codable, CaseIterable {
    case status
    case procedureList = "procedure.list"
    case procedureShow = "procedure.show"
    case releaseList = "release.list"
    case feedCheck = "feed.check"
    case hostList = "host.list"
    case hostScan = "host.scan"
    case rolloutPlan = "rollout.plan"
    case rolloutStart = "rollout.start"
    case rolloutList = "rollout.list"
    case rolloutShow = "rollout.show"
    case rolloutApprove = "rollout.approve"
    case rolloutPause = "rollout.pause"
    case rolloutResume = "rollout.resume"
    case rolloutAbort = "rollout.abort"
    case rolloutRollback = "rollout.rollback"
    case rolloutRetry = "rollout.retry"
    case rolloutSkip = "rollout.skip"
    case rolloutEvents = "rollout.watch"
    case windowList = "window.list"
    case windowOpen = "window.open"
    case windowClose = "window.close"
    case reload
    case audit
    /// Prometheus text exposition (`text/plain; version=0.0.4`), not JSON.
    case metrics
    case notifyList = "notify.list"
    case notifyTest = "notify.test"
    /// A tenant's report (added after the first protocol version).
    case report
    /// The artifact cache (added after the first protocol version).
    case artifactList = "artifact.list"

    /// `GET` or `POST`.
    public var method: String {
        switch access {
        case .read: return "GET"
        case .change: return "POST"
        }
    }

    public var access: Access {
        switch self {
        case .status, .procedureList, .procedureShow, .releaseList, .hostList, .rolloutPlan, .rolloutList,
            .rolloutShow, .rolloutEvents, .windowList, .audit, .metrics, .notifyList, .report, .artifactList:
            return .read
        case .feedCheck, .hostScan, .rolloutStart, .rolloutApprove, .rolloutPause, .rolloutResume, .rolloutAbort,
            .rolloutRollback, .rolloutRetry, .rolloutSkip, .windowOpen, .windowClose, .reload, .notifyTest:
            return .change
        }
    }

    /// The path with `{name}` placeholders.
    public var pattern: String {
        switch self {
        case .status: return "/v1/status"
        case .procedureList: return "/v1/procedures"
        case .procedureShow: return "/v1/procedures/{id}"
        case .rolloutPlan: return "/v1/procedures/{id}/plan"
        case .releaseList: return "/v1/releases"
        case .feedCheck: return "/v1/feeds/check"
        case .hostList: return "/v1/hosts"
        case .hostScan: return "/v1/hosts/scan"
        case .rolloutStart, .rolloutList: return "/v1/rollouts"
        case .rolloutShow: return "/v1/rollouts/{id}"
        case .rolloutApprove: return "/v1/rollouts/{id}/approve"
        case .rolloutPause: return "/v1/rollouts/{id}/pause"
        case .rolloutResume: return "/v1/rollouts/{id}/resume"
        case .rolloutAbort: return "/v1/rollouts/{id}/abort"
        case .rolloutRollback: return "/v1/rollouts/{id}/rollback"
        case .rolloutRetry: return "/v1/rollouts/{id}/retry"
        case .rolloutSkip: return "/v1/rollouts/{id}/skip"
        case .rolloutEvents: return "/v1/rollouts/{id}/events"
        case .windowList: return "/v1/windows"
        case .windowOpen: return "/v1/windows/{name}/open"
        case .windowClose: return "/v1/windows/{name}/close"
        case .reload: return "/v1/reload"
        case .audit: return "/v1/audit"
        case .metrics: return "/v1/metrics"
        case .notifyList: return "/v1/notify"
        case .notifyTest: return "/v1/notify/{name}/test"
        case .report: return "/v1/report"
        case .artifactList: return "/v1/artifacts"
        }
    }

    /// The path with its placeholders filled in order, each value percent-encoded as one segment.
    public func path(_ values: String...) -> String { target(values, query: []) }

    /// The path and query string of a request: placeholders filled in order, values percent-encoded.
    public func target(_ values: [String], query: [(String, String)]) -> String {
        var remaining = values[...]
        let base = pattern.split(separator: "/", omittingEmptySubsequences: false).map { segment -> String in
            guard segment.hasPrefix("{"), let value = remaining.popFirst() else { return String(segment) }
            return Route.encode(value)
        }.joined(separator: "/")
        guard !query.isEmpty else { return base }
        return base + "?" + query.map { Route.encode($0.0) + "=" + Route.encode($0.1) }.joined(separator: "&")
    }

    private static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: segmentCharacters) ?? value
    }

    private static let segmentCharacters: CharacterSet = {
        var set = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<"\u{80}"))
        set.insert(charactersIn: "-._~")
        return set
    }()
}

/// A request target resolved to a route.
public struct RouteMatch: Hashable, Sendable {
    public var route: Route
    /// Placeholder values, percent-decoded (`id`, `name`).
    public var parameters: [String: String]
    /// Query parameters, percent-decoded; the last value of a repeated key wins.
    public var query: [String: String]

    /// Resolves `method` and `target` (`/v1/rollouts/12?all=true`). Throws `not_found` for an unknown path
    /// and `method_not_allowed` for a known path with another method.
    public static func resolve(method: String, target: String) throws(APIError) -> RouteMatch {
        guard let components = URLComponents(string: target), components.host == nil, components.scheme == nil
        else {
            throw APIError(
                .invalidRequest, "the request target is not a valid path: \(escapedForMessage(target, limit: 4_096))")
        }
        let path = components.percentEncodedPath
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        var methodsForPath: [String] = []
        for route in Route.allCases {
            guard let parameters = match(segments, route.pattern) else { continue }
            if route.method == method { return RouteMatch(route: route, parameters: parameters, query: query) }
            methodsForPath.append(route.method)
        }
        if !methodsForPath.isEmpty {
            throw APIError(
                .methodNotAllowed,
                "\(escapedForMessage(path, limit: 4_096)) does not take \(escapedForMessage(method, limit: 4_096)); it takes "
                    + Set(methodsForPath).sorted().joined(separator: ", "))
        }
        throw APIError(
            .notFound,
            "no route \(escapedForMessage(path, limit: 4_096)); routes are under \(ITVProtocolVersion.pathPrefix)")
    }

    private static func match(_ segments: [String], _ pattern: String) -> [String: String]? {
        let parts = pattern.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (part, segment) in zip(parts, segments) {
            if part.hasPrefix("{") {
                guard let value = segment.removingPercentEncoding, !value.isEmpty else { return nil }
                parameters[String(part.dropFirst().dropLast())] = value
            } else if part != segment {
                return nil
            }
        }
        return parameters
    }
}
