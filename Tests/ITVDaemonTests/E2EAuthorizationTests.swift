import Foundation
import Testing

extension E2ETests {
    /// `operators:` and `readers:` of itvd.yaml take effect on `itvctl reload`, with real users and the
    /// built itvd and itvctl.
    @Suite("End to end: reload applies operators: and readers:", .serialized)
    struct E2EAuthorizationTests {
        /// Writes `operators:` and `readers:` into the daemon's itvd.yaml.
        static func setGroups(_ itvd: E2EDaemon, operators: [String], readers: [String]) throws {
            let text = try String(contentsOfFile: itvd.config, encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
                if line.hasPrefix("operators:") { return "operators: [\(operators.joined(separator: ", "))]" }
                if line.hasPrefix("readers:") { return "readers: [\(readers.joined(separator: ", "))]" }
                return String(line)
            }
            try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: itvd.config))
        }

        @Test("a group removed from operators:, then from readers:, is refused at once after itvctl reload (exit 77)")
        func reloadAppliesAuthorization() async throws {
            let app = "fake-authz"
            let playbook = try fakeAppPlaybook(id: app, waves: ["{name: all, size: rest, approval: auto}"])
            try await E2EOperators.with { _ in
                let op = E2EOperators.users[0]
                try await E2EFleet.with(1, base: "127.0.67") { fleet in
                    try await E2EDaemon.with(fleet: fleet, playbooks: [app: playbook], operators: [E2EOperators.group])
                    {
                        itvd in
                        // As configured: the group operates.
                        try itvd.ok(["status"], as: op)
                        try itvd.ok(["window", "open", "evening", "--for", "1h"], as: op)

                        // The group may only read now.
                        try Self.setGroups(itvd, operators: ["root"], readers: [E2EOperators.group])
                        let reloaded = try itvd.ok(["reload"])
                        #expect(reloaded.contains("reloaded"), "\(reloaded)")
                        let demoted = try itvd.ctl(["window", "close", "evening"], as: op)
                        #expect(demoted.status == 77, "\(demoted.stdout)\(demoted.stderr)")
                        #expect(demoted.stderr.contains("permission_denied"), "\(demoted.stderr)")
                        #expect(demoted.stderr.contains("may read but not change"), "\(demoted.stderr)")
                        try itvd.ok(["status"], as: op)

                        // Removed altogether: not even reading (the socket file keeps its group until a restart,
                        // so the daemon's own check is what refuses).
                        try Self.setGroups(itvd, operators: ["root"], readers: ["root"])
                        try itvd.ok(["reload"])
                        for command in [["status"], ["window", "close", "evening"], ["audit"]] {
                            let refused = try itvd.ctl(command, as: op)
                            #expect(refused.status == 77, "\(command): \(refused.stdout)\(refused.stderr)")
                            #expect(refused.stderr.contains("permission_denied"), "\(command): \(refused.stderr)")
                        }
                        // Root is not affected, and the window op opened is still open (nothing was changed).
                        let windows = try itvd.ok(["--json", "window", "list"])
                        #expect(windows.contains("\"open\":true"), "\(windows)")

                        // Given back: allowed again at once.
                        try Self.setGroups(itvd, operators: [E2EOperators.group], readers: [E2EOperators.group])
                        try itvd.ok(["reload"])
                        try itvd.ok(["window", "close", "evening"], as: op)

                        let audit = try e2eDecode(AuditLines.self, try itvd.ok(["--json", "audit"]))
                        let denied = audit.entries.filter { $0.user == op && $0.outcome == "denied" }
                        #expect(denied.count == 4, "\(denied)")
                    }
                }
            }
        }
    }
}

/// `itvctl --json audit`, as far as these tests read it.
struct AuditLines: Decodable {
    struct Entry: Decodable {
        var id: Int64?
        var user: String
        var action: String
        var target: String
        var comment: String?
        var outcome: String
    }
    var entries: [Entry]
}
