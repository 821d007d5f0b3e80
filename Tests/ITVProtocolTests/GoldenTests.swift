import Foundation
import ITVProtocol
import Testing

/// Encodes a fixed value, compares it byte for byte with its fixture, and decodes the fixture back.
/// `ITV_UPDATE_FIXTURES=1 swift test --filter ITVProtocolTests` writes missing fixtures (review the diff).
struct Golden: Sendable, CustomStringConvertible {
    let name: String
    let check: @Sendable () throws -> Void

    init<T: Codable & Equatable & Sendable>(_ name: String, _ value: T) {
        self.name = name
        check = {
            let path = fixtureDirectory + "/" + name + ".json"
            let encoded = try ITVJSON.encode(value, pretty: true) + Data("\n".utf8)
            if ProcessInfo.processInfo.environment["ITV_UPDATE_FIXTURES"] == "1",
                !FileManager.default.fileExists(atPath: path)
            {
                try encoded.write(to: URL(fileURLWithPath: path))
            }
            let fixture = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(
                encoded == fixture,
                "\(name): encoding differs from \(path):\n\(String(decoding: encoded, as: UTF8.self))")
            let decoded = try ITVJSON.decode(T.self, from: fixture)
            #expect(decoded == value, "\(name): the fixture decodes to another value")
        }
    }

    var description: String { name }
}

let fixtureDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures"

let goldens: [Golden] = [
    // Responses.
    Golden("status", Samples.status),
    Golden("procedure_list", ProcedureListResponse(procedures: [Samples.procedure])),
    Golden(
        "procedure_show",
        ProcedureDetail(
            procedure: Samples.procedure, waves: Samples.planWaves, releases: [Samples.release],
            hosts: [Samples.installed, InstalledVersion(host: "ws-fin-01", procedure: "firefox-esr", current: false)],
            rollouts: [Samples.rollout])),
    Golden("release_list", ReleaseListResponse(releases: [Samples.release])),
    Golden(
        "feed_check",
        FeedCheckResponse(results: [
            FeedCheckResult(procedure: "firefox-esr", ok: true, latest: "128.5.0", newReleases: ["128.5.0"]),
            FeedCheckResult(
                procedure: "gis-viewer", ok: false,
                error: APIError(ErrorKind("feed_unreachable"), "connect to vendor.example:443 timed out after 30s")),
        ])),
    Golden(
        "host_list",
        HostListResponse(hosts: [
            HostInfo(
                name: "ws-it-01", address: "10.1.0.11", port: 22, tenant: "landratsamt",
                groups: ["workstations", "it"],
                os: "linux", procedures: [Samples.installed])
        ])),
    Golden(
        "host_scan",
        HostScanResponse(results: [
            HostScanResult(host: "ws-it-01", procedure: "firefox-esr", version: "128.4.0"),
            HostScanResult(
                host: "srv-fin-01", procedure: "firefox-esr",
                error: APIError(ErrorKind("hostkey_mismatch"), "host key of srv-fin-01 changed")),
        ])),
    Golden(
        "rollout_plan",
        RolloutPlanResponse(
            procedure: "firefox-esr", version: "128.5.0", planHash: Samples.hash, hostCount: 4,
            waves: Samples.planWaves)),
    Golden(
        "rollout_action",
        RolloutActionResponse(
            rollout: Samples.rollout, message: "wave 2 (pilot) approved by alice: 1 of 2 approvals")),
    Golden("rollout_list", RolloutListResponse(rollouts: [Samples.rollout, Samples.halted])),
    Golden("rollout_show", Samples.detail),
    Golden("rollout_show_deferred", Samples.catchingUp),
    Golden(
        "host_list_deferred",
        HostListResponse(hosts: [
            HostInfo(
                name: "ws-egl-03", address: "10.2.0.13", port: 22, tenant: "egling", groups: ["workstations"],
                os: "windows",
                procedures: [
                    InstalledVersion(
                        host: "ws-egl-03", procedure: "firefox-esr", version: "128.4.0", seenAt: Samples.t0,
                        latest: "128.5.0", current: false, rolloutId: 14, rolloutState: "deferred",
                        deferReason: "unreached")
                ])
        ])),
    Golden("event_snapshot", RolloutEvent.snapshot(Samples.detail, at: Samples.t0)),
    Golden("event_rollout", RolloutEvent(kind: .rollout, at: Samples.t0, rollout: Samples.halted)),
    Golden("event_wave", RolloutEvent(kind: .wave, at: Samples.t0, wave: Samples.waves[1])),
    Golden("event_host_run", RolloutEvent(kind: .hostRun, at: Samples.t0, hostRun: Samples.detail.hostRuns[1])),
    Golden("event_approval", RolloutEvent(kind: .approval, at: Samples.t0, approval: Samples.detail.approvals[1])),
    Golden("window_list", WindowListResponse(windows: [Samples.window])),
    Golden(
        "window_list_tenants",
        WindowListResponse(windows: [
            WindowInfo(name: "evening-egling", open: false, defaultDurationSeconds: 7_200, tenants: ["egling"])
        ])),
    Golden("window_action", WindowActionResponse(window: Samples.window, message: "window evening open for 4h")),
    Golden(
        "reload",
        ReloadResponse(
            ok: false, procedures: 300, hosts: 800,
            problems: ["/etc/itvd/playbooks/gis.yaml:12:7: unknown window 'night'"], reloadedAt: Samples.t0)),
    Golden(
        "audit",
        AuditResponse(entries: [
            AuditEntry(
                id: 7, at: Samples.t0, user: "alice", uid: 1001, action: "rollout.approve", target: "rollout 12",
                comment: "pilot ok", outcome: "ok"),
            AuditEntry(
                id: 8, at: Samples.t0, user: "mallory", uid: 1002, action: "permission.denied",
                target: "rollout.abort", outcome: "denied"),
        ])),
    Golden(
        "audit_page",
        AuditResponse(
            entries: [
                AuditEntry(
                    id: 4_001, at: Samples.t0, user: "alice", uid: 1001, action: "window.open",
                    target: "window evening", outcome: "ok")
            ], nextBefore: 4_001)),
    Golden("error", ErrorBody(APIError(.planChanged, "the plan of rollout 12 changed since you saw it"))),
    Golden(
        "error_already_approved",
        ErrorBody(
            APIError(
                .alreadyApproved,
                "alice already approved wave 2 (pilot) of rollout 12; it needs 2 different operators"))),
    // Artifacts (added after the first version).
    Golden(
        "error_artifact_rejected",
        ErrorBody(
            APIError(
                .artifactRejected,
                "release 24.08 of 7zip is rejected: its artifact https://www.7-zip.org/a/7z2408-x64.msi failed "
                    + "verification (checksum_mismatch): bytes differ; expected SHA-256 "
                    + String(repeating: "a", count: 64) + ", actual " + String(repeating: "b", count: 64)))),
    Golden(
        "rollout_plan_artifact",
        RolloutPlanResponse(
            procedure: "7zip", version: "24.08", planHash: Samples.hash, hostCount: 4, waves: Samples.planWaves,
            artifact: PlanArtifactInfo(
                name: "7z2408-x64.msi", size: 1_605_632, sha256: String(repeating: "a", count: 64)))),
    Golden(
        "release_list_artifact",
        ReleaseListResponse(releases: [
            ReleaseInfo(
                procedure: "7zip", version: "24.08", firstSeenAt: Samples.t0,
                feedUrl: "https://www.7-zip.org/history.txt",
                artifactState: "verified", artifactSha256: String(repeating: "a", count: 64)),
            ReleaseInfo(
                procedure: "7zip", version: "24.09", firstSeenAt: Samples.t0,
                feedUrl: "https://www.7-zip.org/history.txt",
                artifactState: "rejected", artifactRejection: "bad_signature"),
        ])),
    Golden(
        "error_tenant_forbidden",
        ErrorBody(
            APIError(
                .tenantForbidden,
                "user egon (uid 1005) operates tenant egling only; wave 2 (pilot) of rollout 12 has hosts of "
                    + "landratsamt: it needs a global operator"))),
    Golden(
        "report",
        ReportResponse(
            tenant: "egling", tenantName: "Gemeinde Egling an der Paar", generatedAt: Samples.t0,
            sinceSeconds: 7_776_000,
            rows: [
                ReportRow(
                    host: "ws-eg-01", procedure: "firefox-esr", installed: "128.4.0", seenAt: Samples.t0,
                    newest: "128.5.0", state: "behind", behindSince: Samples.t0,
                    rollouts: [
                        ReportRollout(
                            id: 12, version: "128.5.0", phase: "halted", hostPhase: "failed", createdAt: Samples.t0,
                            createdBy: "alice", approvedBy: ["alice", "bob"], planHash: Samples.hash)
                    ]),
                ReportRow(host: "ws-eg-01", procedure: "kassenbuch", state: "not_scanned"),
            ], nextAfter: "ws-eg-01")),
    // The artifact cache (added after the first version: `GET /v1/artifacts`).
    Golden(
        "artifact_list",
        ArtifactListResponse(
            artifacts: [
                ArtifactInfo(
                    procedure: "7zip", version: "24.08", url: "https://www.7-zip.org/a/7z2408-x64.msi",
                    state: "verified", name: "7z2408-x64.msi", size: 1_605_632,
                    sha256: String(repeating: "a", count: 64), verifiedBy: "sha256sum+gpg", cached: true,
                    recordedAt: Samples.t0, keptBecause: "rollout 12"),
                ArtifactInfo(
                    procedure: "7zip", version: "24.09", url: "https://www.7-zip.org/a/7z2409-x64.msi",
                    state: "rejected", name: "7z2409-x64.msi", rejection: "checksum_mismatch",
                    message: "bytes differ", expectedSha256: String(repeating: "a", count: 64),
                    actualSha256: String(repeating: "b", count: 64), cached: false, recordedAt: Samples.t0),
            ], cacheBytes: 1_605_632, maxBytes: 21_474_836_480, total: 2)),
    // Request bodies.
    Golden("request_feed_check", FeedCheckRequest(procedures: ["firefox-esr"])),
    Golden("request_host_scan", HostScanRequest(procedure: "firefox-esr")),
    Golden("request_rollout_start", RolloutStartRequest(procedure: "firefox-esr", version: "128.5.0", comment: "CVE")),
    Golden("request_approve", ApproveRequest(wave: 1, planHash: Samples.hash, comment: "pilot ok")),
    Golden("request_rollout_control", RolloutControlRequest(reason: "vendor recalled the release")),
    Golden("request_host_action", HostActionRequest(host: "ws-fin-02", comment: "checked by hand")),
    Golden("request_window_open", WindowOpenRequest(durationSeconds: 7_200, comment: "patch night")),
    Golden("request_window_close", WindowCloseRequest(comment: "done")),
    // Added with reboots (issue 13): "reboot pending" on host runs, hosts and the status.
    Golden(
        "host_run_reboot",
        [
            HostRunInfo(
                host: "ws-eg-01", wave: 1, phase: .running, step: .waitReboot, previous: "128.4.0", changed: true,
                installAttempts: 1, updatedAt: Samples.t0, rebootPending: true),
            HostRunInfo(
                host: "ws-eg-02", wave: 1, phase: .succeeded, step: .verify, previous: "128.4.0", changed: true,
                installAttempts: 1, errorKind: "user_logged_on", error: "not restarted: logged on: mueller",
                updatedAt: Samples.t0, rebootPending: true),
        ]),
    Golden(
        "host_list_reboot_pending",
        HostListResponse(hosts: [
            HostInfo(
                name: "ws-eg-02", address: "10.2.0.12", port: 22, tenant: "egling", groups: ["workstations"],
                os: "windows", procedures: [Samples.installed], rebootPending: ["firefox-esr"])
        ])),
    Golden(
        "status_reboots_pending",
        StatusResponse(
            daemonVersion: "0.1.0", startedAt: Samples.t0 - 86_400_000, now: Samples.t0, procedures: 300, hosts: 800,
            tenants: 12, activeRollouts: 0, openWindows: [], attention: [], rebootsPending: 37)),
    // Added with kept directory reads: a reload that had to use the hosts read last from a directory.
    Golden(
        "reload_warnings",
        {
            var r = ReloadResponse(ok: true, procedures: 300, hosts: 800, problems: [], reloadedAt: Samples.t0)
            r.warnings = [
                "/etc/itvd/inventory.yaml:14:5: ldap source 'coop-ad': cannot reach the directory (Can't contact "
                    + "LDAP server) (unreachable); using the 612 entries read at 2026-12-04T05:00:00Z until the "
                    + "directory answers (`itvctl reload` reads it again)"
            ]
            return r
        }()),
]

@Suite("Golden JSON fixtures freeze the wire")
struct GoldenTests {
    @Test("every wire type encodes to its fixture and decodes back", arguments: goldens)
    func golden(_ golden: Golden) throws {
        try golden.check()
    }

    @Test("every fixture file belongs to a test")
    func noStrayFixtures() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: fixtureDirectory).filter {
            $0.hasSuffix(".json")
        }
        #expect(Set(files) == Set((goldens + tableGoldens).map { $0.name + ".json" }))
    }
}
