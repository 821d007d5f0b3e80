import ITVProtocol

/// One itvctl command per route, with the top-level keys its `--json` document must carry.
struct CommandCase: Sendable, CustomStringConvertible {
    var route: Route
    var arguments: [String]
    var keys: [String]
    /// What root and operators get (watch of rollout 12 ends waiting for approval).
    var successExit: Int32 = 0

    var description: String { arguments.joined(separator: " ") }
}

let rolloutKeys = ["rollout", "message"]

let everyCommand: [CommandCase] = [
    CommandCase(
        route: .status, arguments: ["status"],
        keys: [
            "daemon_version", "protocol_version", "started_at", "now", "procedures", "hosts", "tenants",
            "active_rollouts", "open_windows", "attention", "problems",
        ]),
    CommandCase(route: .procedureList, arguments: ["procedure", "list"], keys: ["procedures"]),
    CommandCase(
        route: .procedureShow, arguments: ["procedure", "show", "firefox-esr"],
        keys: ["procedure", "waves", "releases", "hosts", "rollouts"]),
    CommandCase(route: .releaseList, arguments: ["release", "list", "--procedure", "firefox-esr"], keys: ["releases"]),
    CommandCase(route: .feedCheck, arguments: ["feed", "check", "firefox-esr"], keys: ["results"]),
    CommandCase(route: .hostList, arguments: ["host", "list", "--group", "workstations"], keys: ["hosts"]),
    CommandCase(route: .hostScan, arguments: ["host", "scan", "--procedure", "firefox-esr"], keys: ["results"]),
    CommandCase(
        route: .rolloutPlan, arguments: ["rollout", "plan", "firefox-esr", "--version", "128.5.0"],
        keys: ["procedure", "version", "plan_hash", "host_count", "waves"]),
    CommandCase(route: .rolloutStart, arguments: ["rollout", "start", "firefox-esr"], keys: rolloutKeys),
    CommandCase(route: .rolloutList, arguments: ["rollout", "list", "--all"], keys: ["rollouts"]),
    CommandCase(
        route: .rolloutShow, arguments: ["rollout", "show", "12"], keys: ["rollout", "waves", "approvals", "host_runs"]),
    CommandCase(route: .rolloutApprove, arguments: ["rollout", "approve", "12", "--comment", "ok"], keys: rolloutKeys),
    CommandCase(route: .rolloutPause, arguments: ["rollout", "pause", "12"], keys: rolloutKeys),
    CommandCase(route: .rolloutResume, arguments: ["rollout", "resume", "12"], keys: rolloutKeys),
    CommandCase(route: .rolloutAbort, arguments: ["rollout", "abort", "12", "--reason", "bad"], keys: rolloutKeys),
    CommandCase(route: .rolloutRollback, arguments: ["rollout", "rollback", "12"], keys: rolloutKeys),
    CommandCase(route: .rolloutRetry, arguments: ["rollout", "retry", "12", "--host", "ws-it-01"], keys: rolloutKeys),
    CommandCase(route: .rolloutSkip, arguments: ["rollout", "skip", "12", "--host", "ws-it-01"], keys: rolloutKeys),
    CommandCase(
        route: .rolloutEvents, arguments: ["rollout", "watch", "12"],
        keys: ["rollout", "waves", "approvals", "host_runs"], successExit: 2),
    CommandCase(route: .windowList, arguments: ["window", "list"], keys: ["windows"]),
    CommandCase(
        route: .windowOpen, arguments: ["window", "open", "evening", "--for", "2h"], keys: ["window", "message"]),
    CommandCase(route: .windowClose, arguments: ["window", "close", "evening"], keys: ["window", "message"]),
    CommandCase(route: .reload, arguments: ["reload"], keys: ["ok", "procedures", "hosts", "problems", "reloaded_at"]),
    CommandCase(route: .audit, arguments: ["audit", "--since", "7d"], keys: ["entries"]),
    CommandCase(route: .metrics, arguments: ["metrics"], keys: ["metrics"]),
    CommandCase(route: .notifyList, arguments: ["notify", "list"], keys: ["sinks"]),
    CommandCase(route: .notifyTest, arguments: ["notify", "test", "chat"], keys: ["sink", "ok", "id", "message"]),
    CommandCase(
        route: .report, arguments: ["report", "--tenant", "egling"],
        keys: ["generated_at", "rows", "since_seconds", "tenant", "tenant_name"]),
    CommandCase(
        route: .artifactList, arguments: ["artifact", "list", "--procedure", "firefox-esr"],
        keys: ["artifacts", "cache_bytes", "max_bytes", "total"]),
]
