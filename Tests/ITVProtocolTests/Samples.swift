import ITVProtocol

/// Fixed values of every wire type, frozen by the fixtures under `Fixtures/`.
enum Samples {
    static let t0: Int64 = 1_790_000_000_000
    static let hash = "5f1c8a0d0c3b7e4e6b9a2d1f0e8c7b6a5f4e3d2c1b0a99887766554433221100"

    static let rollout = RolloutInfo(
        id: 12, procedure: "firefox-esr", version: "128.5.0", phase: .waitingApproval, currentWave: 1, waveCount: 3,
        planHash: hash, reason: nil, createdAt: t0, createdBy: "alice", updatedAt: t0 + 60_000,
        hostCounts: ["succeeded": 1, "pending": 12])
    static let halted = RolloutInfo(
        id: 9, procedure: "gis-viewer", version: "2024.11.2", phase: .halted, currentWave: 0, waveCount: 2,
        planHash: hash, reason: "wave 1: 2 of 3 hosts failed (max_failures 1)", createdAt: t0 - 86_400_000,
        createdBy: "bob", updatedAt: t0)

    static let waves = [
        WaveInfo(
            index: 0, name: "canary", approval: .auto, approvalsNeeded: 0, bakeSeconds: 0, phase: .done,
            startedAt: t0 + 1_000, finishedAt: t0 + 30_000, hosts: ["ws-it-01"]),
        WaveInfo(
            index: 1, name: "pilot", approval: .operator, approvalsNeeded: 2, approvalsGiven: 1, bakeSeconds: 7_200,
            phase: .waitingApproval, hosts: ["ws-fin-01", "ws-fin-02"]),
        WaveInfo(
            index: 2, name: "broad", approval: .window, approvalsNeeded: 0, bakeSeconds: 0, parallel: 50,
            phase: .pending, hosts: ["ws-egl-01"]),
    ]

    static let detail = RolloutDetail(
        rollout: rollout, waves: waves,
        approvals: [
            ApprovalInfo(wave: 0, source: .auto, user: "itvd", uid: 0, planHash: hash, at: t0 + 1_000),
            ApprovalInfo(
                wave: 1, source: .operator, user: "alice", uid: 1001, comment: "pilot ok", planHash: hash,
                at: t0 + 40_000),
        ],
        hostRuns: [
            HostRunInfo(
                host: "ws-it-01", wave: 0, phase: .succeeded, step: .verify, previous: "128.4.0", changed: true,
                installAttempts: 1, updatedAt: t0 + 30_000),
            HostRunInfo(
                host: "ws-fin-01", wave: 1, phase: .failed, step: .install, previous: "128.4.0", changed: true,
                installAttempts: 1, errorKind: "exit_status", error: "install exited 100: E: Unable to locate package",
                updatedAt: t0 + 50_000),
            HostRunInfo(host: "ws-fin-02", wave: 1, phase: .unknown, step: .install, updatedAt: t0 + 50_000),
            HostRunInfo(host: "ws-egl-01", wave: 2, phase: .pending, updatedAt: t0),
        ])

    static let planWaves = waves.map {
        PlanWaveInfo(
            index: $0.index, name: $0.name, approval: $0.approval, approvalsNeeded: $0.approvalsNeeded,
            bakeSeconds: $0.bakeSeconds, parallel: $0.parallel, hosts: $0.hosts)
    }

    static let procedure = ProcedureInfo(
        id: "firefox-esr", name: "Mozilla Firefox ESR", vendor: "Mozilla", targets: ["workstations"], hostCount: 4,
        scheme: "dotted", feedKind: "json", feedUrl: "https://vendor.example/firefox_versions.json",
        latestRelease: "128.5.0",
        deployed: [VersionCount(version: "128.4.0", hosts: 3), VersionCount(version: nil, hosts: 1)])

    static let release = ReleaseInfo(
        procedure: "firefox-esr", version: "128.5.0", firstSeenAt: t0 - 3_600_000,
        feedUrl: "https://vendor.example/firefox_versions.json")

    /// A rollout whose waves are done and whose switched-off hosts are caught up (issue 13).
    static let catchingUp = RolloutDetail(
        rollout: RolloutInfo(
            id: 14, procedure: "firefox-esr", version: "128.5.0", phase: .catchingUp, currentWave: 0, waveCount: 1,
            planHash: hash, createdAt: t0, createdBy: "alice", updatedAt: t0 + 90_000,
            hostCounts: ["succeeded": 1, "deferred": 1, "unreached": 1]),
        waves: [
            WaveInfo(
                index: 0, name: "broad", approval: .auto, approvalsNeeded: 0, bakeSeconds: 0, phase: .done,
                startedAt: t0 + 1_000, finishedAt: t0 + 60_000, hosts: ["ws-egl-01", "ws-egl-02", "ws-egl-03"])
        ],
        approvals: [ApprovalInfo(wave: 0, source: .auto, user: "itvd", uid: 0, planHash: hash, at: t0 + 1_000)],
        hostRuns: [
            HostRunInfo(
                host: "ws-egl-01", wave: 0, phase: .succeeded, step: .verify, previous: "128.4.0", changed: true,
                installAttempts: 1, updatedAt: t0 + 30_000, wakes: 1),
            HostRunInfo(
                host: "ws-egl-02", wave: 0, phase: .unreached, step: .detect, errorKind: "connect_failed",
                error: "not reached within reach_deadline 7d of its first attempt (673 attempt(s))",
                updatedAt: t0 + 60_000, deferReason: "unreached", firstAttemptAt: t0 + 1_000, deferrals: 673),
            HostRunInfo(
                host: "ws-egl-03", wave: 0, phase: .deferred, step: .detect, errorKind: "connect_failed",
                error: "detect: cannot connect to 10.2.0.13:22: Connection refused", updatedAt: t0 + 60_000,
                deferReason: "unreached", nextAttemptAt: t0 + 960_000, firstAttemptAt: t0 + 2_000, deferrals: 1,
                wakes: 2),
        ])

    static let installed = InstalledVersion(
        host: "ws-it-01", procedure: "firefox-esr", version: "128.4.0", seenAt: t0, latest: "128.5.0", current: false)

    static let window = WindowInfo(
        name: "evening", open: true, openUntil: t0 + 14_400_000, defaultDurationSeconds: 14_400, changedBy: "root",
        changedAt: t0)

    static let status = StatusResponse(
        daemonVersion: "0.1.0", startedAt: t0 - 86_400_000, now: t0, procedures: 300, hosts: 800, tenants: 12,
        activeRollouts: 2, openWindows: ["evening"], attention: [rollout, halted], lastReloadAt: t0 - 3_600_000,
        problems: ["/etc/itvd/playbooks/gis.yaml:12:7: unknown window 'night'"])
}
