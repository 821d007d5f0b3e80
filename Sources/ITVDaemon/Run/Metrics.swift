import Foundation
import ITVCore
import ITVEngine
import ITVProtocol
import Prometheus

/// The daemon's Prometheus metrics. State (hosts, drift, rollouts, feeds, outbox) is read fresh on each
/// scrape from the same sources as `itvctl status` and `host list`, so the two always agree; counters and
/// the step duration histogram live in one registry for the daemon's lifetime (reset by a restart, which
/// Prometheus' `rate()` handles). Labels are bounded by the configuration (tenants, procedures, sinks) or by
/// fixed sets (states, phases, steps, outcomes): never one series per host.
final class DaemonMetrics: EngineObserver {
    static let driftStates = ["current", "behind", "not_installed", "not_scanned", "no_release"]
    static let stepOutcomes = ["ok", "failed", "not_run", "unknown"]
    static let runOutcomes = ["succeeded", "failed", "unknown", "rolled_back", "rollback_failed"]
    /// Seconds: a step takes from well under a second (`detect`) to the 15 min default deadline.
    static let stepBuckets: [Double] = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3_600]

    let counters = PrometheusCollectorRegistry()
    private let hostRuns: [String: Counter]
    private let steps: [String: ValueHistogram]

    init() {
        var runs: [String: Counter] = [:]
        for outcome in Self.runOutcomes {
            runs[outcome] = counters.counter(
                "itv_host_runs_total", [("outcome", outcome)],
                help: "Host runs settled since itvd started, by outcome.")
        }
        hostRuns = runs
        var histograms: [String: ValueHistogram] = [:]
        for step in HostStep.allCases {
            for outcome in Self.stepOutcomes {
                histograms["\(step.rawValue) \(outcome)"] = counters.histogram(
                    "itv_step_duration_seconds", [("step", step.rawValue), ("outcome", outcome)],
                    buckets: Self.stepBuckets, help: "How long steps on hosts took, by step and outcome.")
            }
        }
        steps = histograms
    }

    func stepFinished(_ step: HostStep, outcome: String, seconds: Double) {
        steps["\(step.rawValue) \(outcome)"]?.record(seconds)
    }

    func hostRunSettled(outcome: String) { hostRuns[outcome]?.increment() }

    /// What one scrape shows, gathered by the control service.
    struct State: Sendable {
        var status: StatusResponse
        var hosts: HostListResponse
        var active: [RolloutInfo.Phase]
        var tenants: [String]
        var procedures: [String]
        /// Procedure -> (up, last success as epoch seconds), for procedures with a feed polled at least once.
        var feeds: [String: (up: Bool, lastSuccess: Double?)]
        /// Sink name -> notifications waiting for delivery.
        var outboxPending: [String: Int]
        /// The lifetime counters and histograms count every tenant's host runs: not for a tenant's readers.
        var includeCounters = true
    }

    /// The exposition: state gauges made fresh, then the lifetime counters and histograms.
    func render(_ state: State) -> String {
        let r = PrometheusCollectorRegistry()
        r.gauge(
            "itv_build_info", [("version", state.status.daemonVersion)],
            help: "Always 1; the version label says which itvd runs."
        ).set(to: 1)
        r.gauge("itv_start_time_seconds", help: "When itvd started, seconds since the epoch.")
            .set(to: Double(state.status.startedAt) / 1000)

        var hostsPerTenant = Dictionary(uniqueKeysWithValues: state.tenants.map { ($0, 0) })
        var drift: [String: Int] = [:]
        var behind = Dictionary(uniqueKeysWithValues: state.procedures.map { ($0, 0) })
        for host in state.hosts.hosts {
            hostsPerTenant[host.tenant, default: 0] += 1
            for p in host.procedures {
                let s = Self.driftState(p)
                drift["\(host.tenant) \(s)", default: 0] += 1
                if s == "behind" || s == "not_installed" { behind[p.procedure, default: 0] += 1 }
            }
        }
        for (tenant, count) in hostsPerTenant {
            r.gauge("itv_hosts", [("tenant", tenant)], help: "Hosts in the inventory, by tenant.")
                .set(to: Double(count))
            for s in Self.driftStates {
                r.gauge(
                    "itv_host_procedures", [("tenant", tenant), ("state", s)],
                    help: "Procedures on hosts (one per host and procedure it targets), by tenant and drift state."
                ).set(to: Double(drift["\(tenant) \(s)"] ?? 0))
            }
        }
        for (procedure, count) in behind {
            r.gauge(
                "itv_hosts_behind", [("procedure", procedure)],
                help: "Hosts of a procedure that do not run its latest release (behind or not installed)."
            ).set(to: Double(count))
        }
        for phase in RolloutInfo.Phase.allCases where !phase.isFinal {
            r.gauge(
                "itv_rollouts", [("phase", phase.rawValue)], help: "Active rollouts, by phase."
            ).set(to: Double(state.active.filter { $0 == phase }.count))
        }
        r.gauge("itv_waves_waiting_approval", help: "Waves that wait for an operator's approval or a window.")
            .set(to: Double(state.active.filter { $0 == .waitingApproval }.count))
        r.gauge("itv_windows_open", help: "Patch windows open now.")
            .set(to: Double(state.status.openWindows.count))
        for (procedure, feed) in state.feeds {
            r.gauge(
                "itv_feed_up", [("procedure", procedure)],
                help: "1 when the last poll of the procedure's feed succeeded, else 0."
            ).set(to: feed.up ? 1 : 0)
            if let last = feed.lastSuccess {
                r.gauge(
                    "itv_feed_last_success_timestamp_seconds", [("procedure", procedure)],
                    help: "When the procedure's feed was last read successfully, seconds since the epoch."
                ).set(to: last)
            }
        }
        for (sink, pending) in state.outboxPending {
            r.gauge(
                "itv_notify_pending", [("sink", sink)],
                help: "Notifications in the outbox not yet delivered to the sink."
            ).set(to: Double(pending))
        }
        return r.emitToString() + (state.includeCounters ? counters.emitToString() : "")
    }

    /// The drift state `itvctl host list` shows, with `_` for spaces.
    static func driftState(_ p: InstalledVersion) -> String {
        if p.current { return "current" }
        if p.seenAt == nil { return "not_scanned" }
        if p.latest == nil { return "no_release" }
        return p.version == nil ? "not_installed" : "behind"
    }
}

extension PrometheusCollectorRegistry {
    // The full name is given as is (already `itv_..._unit`), so that it reads as it is exported.
    fileprivate func gauge(_ name: String, _ labels: [(String, String)] = [], help: String) -> Gauge {
        makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    fileprivate func counter(_ name: String, _ labels: [(String, String)], help: String) -> Counter {
        makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    fileprivate func histogram(_ name: String, _ labels: [(String, String)], buckets: [Double], help: String)
        -> ValueHistogram
    {
        makeValueHistogram(
            descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels,
            buckets: buckets)
    }
}
