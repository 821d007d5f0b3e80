import Foundation
import ITVCore
import ITVProtocol
import Testing

struct RouteEntry: Codable, Equatable, Sendable {
    var name: String
    var method: String
    var path: String
    var access: Access
}

/// The route table and every enum's raw values are part of the wire: frozen like the types.
let tableGoldens: [Golden] = [
    Golden(
        "routes",
        Route.allCases.map { RouteEntry(name: $0.rawValue, method: $0.method, path: $0.pattern, access: $0.access) }),
    Golden(
        "raw_values",
        [
            "rollout_phase": RolloutInfo.Phase.allCases.map(\.rawValue).filter { !addedRolloutPhases.contains($0) },
            "wave_phase": WaveInfo.Phase.allCases.map(\.rawValue),
            "host_run_phase": HostRunInfo.Phase.allCases.map(\.rawValue).filter { !addedHostRunPhases.contains($0) },
            "host_step": HostRunInfo.Step.known.map(\.rawValue),
            "approval_kind": ApprovalKindInfo.allCases.map(\.rawValue),
            "approval_source": ApprovalInfo.Source.allCases.map(\.rawValue),
            "event_kind": RolloutEvent.Kind.allCases.map(\.rawValue),
            "error_kind": ErrorKind.known.map { "\($0.rawValue) \($0.httpStatus)" },
        ]),
    // Kinds added after the first version, each with its HTTP status.
    Golden("error_kinds_added", ErrorKind.added.map { "\($0.rawValue) \($0.httpStatus)" }),
    // Phases added after the first version (issue 13: unreached hosts are deferred, not failed).
    Golden("phases_added", ["rollout_phase": addedRolloutPhases, "host_run_phase": addedHostRunPhases]),
    // Host steps added after the first version (stage, reboots), oldest first.
    Golden("host_steps_added", HostRunInfo.Step.added.map(\.rawValue)),
]

let addedRolloutPhases = ["catching_up", "incomplete"].filter { RolloutInfo.Phase(rawValue: $0) != nil }
let addedHostRunPhases = ["deferred", "unreached"].filter { HostRunInfo.Phase(rawValue: $0) != nil }

@Suite("Routes, errors and escaping")
struct RouteTests {
    @Test("the route table and raw values match their fixtures", arguments: tableGoldens)
    func tables(_ golden: Golden) throws { try golden.check() }

    @Test("every host step is either in the first version or added since, once")
    func hostSteps() {
        #expect(Set(HostRunInfo.Step.known + HostRunInfo.Step.added) == Set(HostRunInfo.Step.allCases))
        #expect(HostRunInfo.Step.known.count + HostRunInfo.Step.added.count == HostRunInfo.Step.allCases.count)
    }

    @Test("paths resolve to routes with decoded parameters and query")
    func resolve() throws {
        let show = try RouteMatch.resolve(method: "GET", target: "/v1/rollouts/12")
        #expect(show.route == .rolloutShow)
        #expect(show.parameters == ["id": "12"])
        let list = try RouteMatch.resolve(method: "GET", target: "/v1/rollouts?all=true")
        #expect(list.route == .rolloutList)
        #expect(list.query == ["all": "true"])
        let start = try RouteMatch.resolve(method: "POST", target: "/v1/rollouts")
        #expect(start.route == .rolloutStart)
        let open = try RouteMatch.resolve(method: "POST", target: Route.windowOpen.path("patch night/2"))
        #expect(open.parameters["name"] == "patch night/2")
        let plan = try RouteMatch.resolve(
            method: "GET", target: Route.rolloutPlan.target(["firefox-esr"], query: [("version", "1.0+b&c=d")]))
        #expect(plan.route == .rolloutPlan)
        #expect(plan.query["version"] == "1.0+b&c=d")
    }

    @Test("every route resolves from the path it builds")
    func roundTrip() throws {
        for route in Route.allCases {
            let match = try RouteMatch.resolve(method: route.method, target: route.path("12", "x"))
            #expect(match.route == route)
        }
    }

    @Test("unknown paths are not_found, other methods method_not_allowed")
    func refusals() {
        #expect(throws: APIError.self) { try RouteMatch.resolve(method: "GET", target: "/v2/status") }
        do {
            _ = try RouteMatch.resolve(method: "DELETE", target: "/v1/rollouts/3")
            Issue.record("DELETE resolved")
        } catch {
            #expect(error.kind == .methodNotAllowed)
            #expect(error.kind.httpStatus == 405)
        }
        do {
            _ = try RouteMatch.resolve(method: "GET", target: "/v1/rollouts/3/approve/extra")
            Issue.record("a longer path resolved")
        } catch {
            #expect(error.kind == .notFound)
        }
    }

    @Test("query requests round-trip and reject bad values")
    func queries() throws {
        let audit = AuditRequest(since: 1_790_000_000_000, limit: 50)
        #expect(try AuditRequest(query: Dictionary(uniqueKeysWithValues: audit.queryItems)) == audit)
        #expect(throws: APIError.self) { try AuditRequest(query: ["since": "yesterday"]) }
        let page = AuditRequest(limit: 10_000, before: 4_001)
        #expect(try AuditRequest(query: Dictionary(uniqueKeysWithValues: page.queryItems)) == page)
        #expect(page.queryItems.map(\.0) == ["limit", "before"])
        for bad in [["limit": "10001"], ["limit": "0"], ["before": "0"], ["before": "x"], ["before": "-3"]] {
            #expect(throws: APIError.self, "\(bad)") { try AuditRequest(query: bad) }
        }
        #expect(throws: APIError.self) { try RolloutListRequest(query: ["all": "maybe"]) }
        let hosts = HostListRequest(procedure: "p", group: nil, tenant: "egling")
        #expect(HostListRequest(query: Dictionary(uniqueKeysWithValues: hosts.queryItems)) == hosts)
    }

    @Test("every kind is known once; the added ones keep the first version's list as it was")
    func addedKinds() {
        #expect(Set(ErrorKind.all.map(\.rawValue)).count == ErrorKind.all.count)
        #expect(ErrorKind.all.prefix(ErrorKind.known.count) == ErrorKind.known[...])
        #expect(ErrorKind.alreadyApproved.httpStatus == 409)
    }

    @Test("an error kind this build does not know decodes, and maps to 500")
    func unknownKind() throws {
        let body = try ITVJSON.decode(
            ErrorBody.self, from: Data(#"{"error":{"kind":"quota_exceeded","message":"m"}}"#.utf8))
        #expect(body.error.kind.rawValue == "quota_exceeded")
        #expect(body.error.kind.httpStatus == 500)
    }

    @Test("control characters and bidi overrides are escaped; plain text is kept")
    func escaping() {
        #expect(escapedForMessage("1.0\u{1b}[2J\r\nx\t") == "1.0\\u{1B}[2J\\r\\nx\\t")
        #expect(escapedForMessage("a\u{202e}b\u{9b}") == "a\\u{202E}b\\u{009B}")
        #expect(escapedForMessage("Gemeinde Egling an der Paar – Ü") == "Gemeinde Egling an der Paar – Ü")
        #expect(escapedForMessage("back\\slash") == "back\\slash")
        #expect(escapedForMessage(String(repeating: "x", count: 10), limit: 4) == "xxxx...")
    }
}
