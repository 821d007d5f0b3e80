import Foundation
import Testing

/// Unix users and groups of two tenants' own people (machine-global: the suite is serialized and the tests
/// run under the e2e lock): operators and a reader of tenant `fleet`, an operator of tenant `other`.
enum E2ETenantPeople {
    static let fleetOperators = "itv-e2e-tfo"
    static let fleetReaders = "itv-e2e-tfr"
    static let otherOperators = "itv-e2e-too"
    static let groups = [fleetOperators, fleetReaders, otherOperators]
    /// Members of `fleetOperators`.
    static let fleetOps = ["itv-e2e-tfo1", "itv-e2e-tfo2"]
    /// Member of `fleetReaders`.
    static let fleetReader = "itv-e2e-tfr1"
    /// Member of `otherOperators`.
    static let otherOp = "itv-e2e-too1"
    static var users: [String] { fleetOps + [fleetReader, otherOp] }

    static func with<T>(_ body: () async throws -> T) async throws -> T {
        removeAll()
        defer { removeAll() }
        for group in groups { try E2EOperators.must("/usr/sbin/groupadd", [group]) }
        for user in fleetOps { try add(user, fleetOperators) }
        try add(fleetReader, fleetReaders)
        try add(otherOp, otherOperators)
        return try await body()
    }

    static func add(_ user: String, _ group: String) throws {
        try E2EOperators.must(
            "/usr/sbin/useradd", ["--no-create-home", "--gid", group, "--shell", "/usr/sbin/nologin", user])
    }

    static func removeAll() {
        for user in users { _ = try? runProgram("/usr/sbin/userdel", [user]) }
        for group in groups { _ = try? runProgram("/usr/sbin/groupdel", [group]) }
    }

    /// Gives the tenants of the fleet's inventory their own groups (and windows), then `itvctl reload`.
    static func grant(
        _ itvd: E2EDaemon, fleetWindows: [String] = [], otherWindows: [String] = [], fleetName: String = "Test fleet"
    ) throws {
        let text = try String(contentsOfFile: itvd.inventory, encoding: .utf8)
        func list(_ names: [String]) -> String { "[" + names.joined(separator: ", ") + "]" }
        let granted =
            text
            .replacingOccurrences(
                of: "  fleet: {name: Test fleet}",
                with: "  fleet: {name: '\(fleetName)', operators: [\(fleetOperators)], readers: [\(fleetReaders)], "
                    + "windows: \(list(fleetWindows))}"
            )
            .replacingOccurrences(
                of: "  other: {name: Other tenant}",
                with: "  other: {name: Other tenant, operators: [\(otherOperators)], windows: \(list(otherWindows))}")
        #expect(granted != text)
        try Data(granted.utf8).write(to: URL(fileURLWithPath: itvd.inventory))
        let reloaded = try itvd.ok(["reload"])
        #expect(reloaded.contains("reloaded"), "\(reloaded)")
    }

    /// The socket itvd made belongs to its first reader group (mode 0660); the tenants' people are in none of
    /// the global groups, so the test opens the file to everyone: what they may do is itvd's decision alone.
    static func openSocket(_ itvd: E2EDaemon) throws {
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: itvd.dir + "/run")
        try FileManager.default.setAttributes([.posixPermissions: 0o666], ofItemAtPath: itvd.socket)
    }
}

/// A playbook of the fake application for these target hosts.
func tenantPlaybook(id: String, targets: [String], waves: [String], window: String? = nil) throws -> String {
    try fakeAppPlaybook(id: id, waves: waves, window: window).replacingOccurrences(
        of: "targets: [fleet]", with: "targets: [\(targets.joined(separator: ", "))]")
}

/// `itvctl report --format json`, as far as these tests read it.
struct E2EReport: Decodable {
    struct Rollout: Decodable {
        var id: Int64
        var approvedBy: [String]
        var planHash: String
    }
    struct Row: Decodable {
        var host: String
        var procedure: String
        var installed: String?
        var rollouts: [Rollout]
    }
    var tenant: String
    var rows: [Row]
}

/// `itvctl --json host list`, as far as these tests read it.
struct E2EHostList: Decodable {
    struct Host: Decodable {
        var name: String
        var tenant: String
    }
    var hosts: [Host]
}

extension E2ETests {
    /// Tenants with their own operators and readers (inventory `operators:`/`readers:`), real Unix users, the
    /// built itvd and itvctl on a 4-host fleet (tenant `other`: fleet-001, fleet-003; `fleet`: fleet-002,
    /// fleet-004).
    @Suite("End to end: tenant operators and readers", .serialized)
    struct E2ETenantTests {
        static let fleetHosts = ["fleet-002", "fleet-004"]
        static let otherHosts = ["fleet-001", "fleet-003"]

        /// A refusal: exit 77 and the kind on stderr.
        static func refused(_ itvd: E2EDaemon, _ arguments: [String], as user: String, _ kind: String) throws {
            let r = try itvd.ctl(arguments, as: user)
            #expect(r.status == 77, "\(user) \(arguments): exit \(r.status) \(r.stdout)\(r.stderr)")
            #expect(r.stderr.contains(kind), "\(user) \(arguments): \(r.stderr)")
        }

        /// Every host name a JSON answer mentions, among the fleet's.
        static func hostsIn(_ text: String) -> Set<String> {
            Set((fleetHosts + otherHosts).filter { text.contains("\"\($0)\"") || text.contains(" \($0)") })
        }

        @Test("every route allowed or refused as specified; a tenant reader's answers hold no other tenant's host")
        func accessMatrix() async throws {
            let own = try tenantPlaybook(
                id: "t-own", targets: Self.fleetHosts, waves: ["{name: all, size: rest, approval: operator}"])
            let mixed = try tenantPlaybook(
                id: "t-mixed", targets: ["fleet"], waves: ["{name: all, size: rest, approval: operator}"])
            try await E2ETenantPeople.with {
                try await E2EFleet.with(4, base: "127.0.90") { fleet in
                    try await E2EDaemon.with(
                        fleet: fleet, playbooks: ["t-own": own, "t-mixed": mixed]
                    ) { itvd in
                        try E2ETenantPeople.openSocket(itvd)
                        let op = E2ETenantPeople.fleetOps[0]
                        let reader = E2ETenantPeople.fleetReader
                        let otherOp = E2ETenantPeople.otherOp
                        // Before the tenants name groups, their people may not use itvd at all.
                        try Self.refused(itvd, ["status"], as: op, "permission_denied")
                        try E2ETenantPeople.grant(itvd, fleetName: "=Gemeinde Über, \"Test\"")

                        // Reads: only their tenant's hosts, in every answer.
                        for user in [op, reader] {
                            let hosts = try e2eDecode(
                                E2EHostList.self, try itvd.ok(["--json", "host", "list"], as: user))
                            #expect(Set(hosts.hosts.map(\.name)) == Set(Self.fleetHosts), "\(user): \(hosts.hosts)")
                            #expect(hosts.hosts.allSatisfy { $0.tenant == "fleet" })
                            for command in [
                                ["status"], ["procedure", "list"], ["procedure", "show", "t-mixed"],
                                ["rollout", "plan", "t-mixed", "--version", "2.0"], ["window", "list"],
                                ["release", "list"], ["artifact", "list"],
                            ] {
                                let text = try itvd.ok(["--json"] + command, as: user)
                                #expect(Self.hostsIn(text).isSubset(of: Set(Self.fleetHosts)), "\(command): \(text)")
                            }
                        }
                        let status = try itvd.ok(["--json", "status"], as: reader)
                        #expect(status.contains("\"hosts\":2") || status.contains("\"hosts\" : 2"), "\(status)")
                        let allHosts = try e2eDecode(E2EHostList.self, try itvd.ok(["--json", "host", "list"]))
                        #expect(allHosts.hosts.count == 4)

                        // Routes of the whole daemon: global people only.
                        try Self.refused(itvd, ["reload"], as: op, "tenant_forbidden")
                        try Self.refused(itvd, ["feed", "check"], as: op, "tenant_forbidden")
                        try Self.refused(itvd, ["host", "scan"], as: op, "tenant_forbidden")
                        try Self.refused(itvd, ["notify", "list"], as: reader, "tenant_forbidden")
                        // A window no tenant names serves every tenant: the cooperative's.
                        try Self.refused(
                            itvd, ["window", "open", "evening", "--for", "1h"], as: op, "tenant_forbidden")
                        // A tenant reader may not change anything.
                        try Self.refused(
                            itvd, ["rollout", "start", "t-own", "--version", "2.0"], as: reader,
                            "permission_denied")

                        // A rollout with hosts of both tenants: neither tenant's operator may start or approve it.
                        try Self.refused(
                            itvd, ["rollout", "start", "t-mixed", "--version", "2.0"], as: op,
                            "tenant_forbidden")
                        let mixedID = try itvd.startRollout("t-mixed", "2.0")
                        try await itvd.waitForApproval(mixedID, wave: 0)
                        try Self.refused(itvd, ["rollout", "approve", String(mixedID)], as: op, "tenant_forbidden")
                        try Self.refused(
                            itvd, ["rollout", "approve", String(mixedID)], as: otherOp, "tenant_forbidden")
                        try Self.refused(itvd, ["rollout", "pause", String(mixedID)], as: op, "tenant_forbidden")
                        try Self.refused(
                            itvd, ["rollout", "skip", String(mixedID), "--host", "fleet-001"], as: op,
                            "tenant_forbidden")
                        // ... but may see their part of it, and follow it.
                        let shown = try itvd.ok(["--json", "rollout", "show", String(mixedID)], as: reader)
                        #expect(Self.hostsIn(shown) == Set(Self.fleetHosts), "\(shown)")
                        let watched = try itvd.ctl(["--json", "rollout", "watch", String(mixedID)], as: reader)
                        #expect(watched.status == 2, "\(watched.stdout)\(watched.stderr)")
                        #expect(Self.hostsIn(watched.stdout) == Set(Self.fleetHosts), "\(watched.stdout)")
                        // A host of its own tenant in a mixed rollout: a tenant operator may skip it.
                        try itvd.ok(["rollout", "skip", String(mixedID), "--host", "fleet-002"], as: op)
                        try itvd.ok(["rollout", "abort", String(mixedID)])

                        // A rollout of their own hosts: their operators start and approve it, N at once, one wins.
                        let ownID = try itvd.startRollout("t-own", "2.0", as: op)
                        try await itvd.waitForApproval(ownID, wave: 0)
                        try Self.refused(itvd, ["rollout", "show", String(ownID)], as: otherOp, "tenant_forbidden")
                        try Self.refused(itvd, ["rollout", "pause", String(ownID)], as: otherOp, "tenant_forbidden")
                        try Self.refused(itvd, ["rollout", "watch", String(ownID)], as: otherOp, "tenant_forbidden")
                        let answers = await withTaskGroup(of: RunResult?.self) { group in
                            for i in 0..<8 {
                                let user = E2ETenantPeople.fleetOps[i % 2]
                                group.addTask { try? itvd.ctl(["rollout", "approve", String(ownID)], as: user) }
                            }
                            var all: [RunResult?] = []
                            for await r in group { all.append(r) }
                            return all
                        }
                        let approved = answers.compactMap { $0 }.filter { $0.status == 0 }
                        #expect(approved.count == 1, "\(answers.compactMap { $0 }.map { $0.stderr })")
                        #expect(answers.compactMap { $0 }.allSatisfy { $0.status == 0 || $0.status == 1 })
                        try await itvd.waitForPhase(ownID, "succeeded")
                        for host in Self.fleetHosts { #expect(fleet.installs(host, "t-own", of: "2.0") == 1) }

                        // The report: its CSV, read back with Python's csv module, says what its JSON says.
                        let csv = try itvd.ok(["report", "--tenant", "fleet", "--format", "csv"], as: reader)
                        let json = try itvd.ok(["report", "--tenant", "fleet", "--format", "json"], as: reader)
                        try Data(csv.utf8).write(to: URL(fileURLWithPath: itvd.dir + "/report.csv"))
                        try Data(json.utf8).write(to: URL(fileURLWithPath: itvd.dir + "/report.json"))
                        let compared = try runProgram(
                            "/usr/bin/python3",
                            [
                                repositoryRoot + "/scripts/report_csv_equals_json.py", itvd.dir + "/report.csv",
                                itvd.dir + "/report.json",
                            ])
                        #expect(compared.status == 0, "\(compared.stdout)\(compared.stderr)\n\(csv)")
                        #expect(csv.contains("'=Gemeinde Über, \"\"Test\"\"\""), "\(csv)")
                        let report = try e2eDecode(E2EReport.self, json)
                        #expect(Set(report.rows.map(\.host)) == Set(Self.fleetHosts), "\(json)")
                        let touched = report.rows.filter { $0.procedure == "t-own" }.flatMap(\.rollouts)
                        #expect(touched.count == 2 && touched.allSatisfy { $0.id == ownID }, "\(json)")
                        #expect(
                            touched.allSatisfy {
                                $0.approvedBy.count == 1 && E2ETenantPeople.fleetOps.contains($0.approvedBy[0])
                            })
                        #expect(touched.allSatisfy { $0.planHash.count == 64 })
                        #expect(report.rows.filter { $0.procedure == "t-own" }.allSatisfy { $0.installed == "2.0" })
                        try Self.refused(itvd, ["report", "--tenant", "other"], as: reader, "tenant_forbidden")

                        // Lists: the other tenant's operator sees the mixed rollout only.
                        let list = try itvd.ok(["--json", "rollout", "list", "--all"], as: otherOp)
                        #expect(list.contains("\"id\":\(mixedID)") || list.contains("\"id\" : \(mixedID)"), "\(list)")
                        #expect(!list.contains("\"id\":\(ownID),") && !list.contains("\"id\" : \(ownID),"), "\(list)")
                        #expect(Self.hostsIn(list).isSubset(of: Set(Self.otherHosts)), "\(list)")

                        // Audit: the reader sees its tenant's rollouts, not the other tenant's refusals.
                        let audit = try e2eDecode(AuditLines.self, try itvd.ok(["--json", "audit"], as: reader))
                        #expect(audit.entries.contains { $0.target.hasPrefix("rollout \(ownID)") })
                        #expect(!audit.entries.contains { $0.user == otherOp }, "\(audit.entries)")
                        let full = try e2eDecode(AuditLines.self, try itvd.ok(["--json", "audit"]))
                        let forbidden = full.entries.filter { $0.action == "tenant.forbidden" }
                        #expect(
                            forbidden.contains { $0.user == otherOp && $0.target == "rollout.pause" }, "\(forbidden)")
                        #expect(forbidden.contains { $0.user == op && $0.target == "reload" }, "\(forbidden)")
                        #expect(
                            forbidden.allSatisfy { $0.outcome == "denied" && ($0.comment ?? "").contains("tenant") })

                        // Metrics: the reader's tenant only.
                        let metrics = try itvd.ok(["metrics"], as: reader)
                        #expect(metrics.contains("tenant=\"fleet\""), "\(metrics)")
                        #expect(!metrics.contains("tenant=\"other\""), "\(metrics)")
                        #expect(!metrics.contains("itv_host_runs_total"), "\(metrics)")
                        #expect(try itvd.ok(["metrics"]).contains("itv_host_runs_total"))
                    }
                }
            }
        }

        @Test("a window per tenant: hosts of the closed tenant wait while the open tenant's run")
        func tenantWindows() async throws {
            let app = "t-win"
            let playbook = try tenantPlaybook(
                id: app, targets: ["fleet"], waves: ["{name: all, size: rest, approval: auto}"])
            try await E2ETenantPeople.with {
                try await E2EFleet.with(4, base: "127.0.91") { fleet in
                    try await E2EDaemon.with(
                        configuration: { itvd in
                            try itvd.prepare(
                                fleet: fleet, playbooks: [app: playbook], operators: ["root"], extraConfig: "")
                            let text = try String(contentsOfFile: itvd.config, encoding: .utf8)
                                .replacingOccurrences(
                                    of: "windows: {evening: {duration: 1h}}",
                                    with: "windows: {evening: {duration: 1h}, w-fleet: {duration: 1h}, "
                                        + "w-other: {duration: 1h}}")
                            try Data(text.utf8).write(to: URL(fileURLWithPath: itvd.config))
                        }
                    ) { itvd in
                        try E2ETenantPeople.openSocket(itvd)
                        try E2ETenantPeople.grant(itvd, fleetWindows: ["w-fleet"], otherWindows: ["w-other"])
                        let windows = try itvd.ok(["window", "list"])
                        #expect(windows.contains("w-fleet") && windows.contains("fleet"), "\(windows)")
                        // A tenant operator opens its own tenant's window, not the other's.
                        try Self.refused(
                            itvd, ["window", "open", "w-other", "--for", "1h"], as: E2ETenantPeople.fleetOps[0],
                            "tenant_forbidden")
                        let rid = try itvd.startRollout(app, "3.0")
                        try await Task.sleep(for: .seconds(2))
                        var detail = try itvd.show(rid)
                        #expect(detail.hosts(in: "pending").count == 4, "\(detail.summary)")

                        try itvd.ok(["window", "open", "w-fleet", "--for", "1h"], as: E2ETenantPeople.fleetOps[0])
                        detail = try await itvd.waitFor(rid, "fleet hosts done") {
                            $0.hosts(in: "succeeded") == Self.fleetHosts
                        }
                        try await Task.sleep(for: .seconds(2))
                        detail = try itvd.show(rid)
                        #expect(detail.hosts(in: "pending") == Self.otherHosts, "\(detail.summary)")
                        #expect(detail.phase == "running", "\(detail.summary)")
                        for host in Self.otherHosts { #expect(fleet.installs(host, app, of: "3.0") == 0) }

                        try itvd.ok(["window", "open", "w-other", "--for", "1h"], as: E2ETenantPeople.otherOp)
                        try await itvd.waitForPhase(rid, "succeeded")
                        for host in Self.fleetHosts + Self.otherHosts {
                            #expect(fleet.installs(host, app, of: "3.0") == 1, "\(host)")
                        }
                    }
                }
            }
        }
    }
}
