import Foundation
import ITVProtocol
import Testing

/// Parses the Prometheus text format into `name{labels}` -> value (labels as the exporter wrote them).
func parseExposition(_ text: String) -> [String: Double] {
    var samples: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
            continue
        }
        samples[String(line[..<space])] = value
    }
    return samples
}

/// A sample's value by name and labels, whatever order the exporter wrote the labels in.
func sample(_ samples: [String: Double], _ name: String, _ labels: [String: String] = [:]) -> Double? {
    for (key, value) in samples {
        let open = key.firstIndex(of: "{")
        let base = open.map { String(key[..<$0]) } ?? key
        guard base == name else { continue }
        var found: [String: String] = [:]
        if let open {
            let inner = key[key.index(after: open)..<(key.lastIndex(of: "}") ?? key.endIndex)]
            for pair in inner.split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { found[String(kv[0])] = String(kv[1]).trimmingCharacters(in: ["\""]) }
            }
        }
        if found == labels { return value }
    }
    return nil
}

/// `promtool check metrics` on a document (it reads stdin only).
func promtoolCheck(_ text: String, dir: String) throws -> RunResult {
    let file = dir + "/metrics.txt"
    try Data(text.utf8).write(to: URL(fileURLWithPath: file))
    return try runProgram("/bin/sh", ["-c", "promtool check metrics < '\(file)'"])
}

extension E2ETests {
    /// The built itvd's metrics on the socket and on TCP, checked by promtool and against what
    /// `itvctl --json status` and `host list` report for the same state (loopback range 127.0.70).
    @Suite("End to end: Prometheus metrics", .serialized)
    struct E2EMetricsTests {
        @Test("GET /v1/metrics and the TCP listener pass promtool and agree with status and host list")
        func metricsAgreeWithStatus() async throws {
            let app = "fake-metrics"
            let temp = try E2ETempDir()
            try Data("fake-metrics 2.0\n".utf8).write(to: URL(fileURLWithPath: temp.path + "/feed.txt"))
            let playbook =
                try fakeAppPlaybook(
                    id: app,
                    waves: ["{name: canary, size: 1, approval: auto}", "{name: pilot, size: rest, approval: operator}"])
                    + """
                    feed:
                      kind: text
                      url: file://\(temp.path)/feed.txt
                      match: '^fake-metrics (?<version>[0-9.]+)$'

                    """
            try await E2EFleet.with(4, base: "127.0.70") { fleet in
                // fleet-001 runs the latest release, fleet-002/003 an older one, fleet-004 nothing.
                try fleet.setVersion(fleet.name(1), app, "2.0")
                try fleet.setVersion(fleet.name(2), app, "1.0")
                try fleet.setVersion(fleet.name(3), app, "1.0")
                try await E2EDaemon.with(
                    fleet: fleet, playbooks: [app: playbook],
                    extraConfig: """
                        metrics: {listen: 127.0.70.250:9464}
                        notify:
                          - {name: dead, kind: webhook, url: "https://127.0.0.1:1/hook", events: [release.detected, feed.broken]}
                        """
                ) { itvd in
                    try itvd.ok(["feed", "check", app])
                    try itvd.ok(["host", "scan", "--procedure", app])
                    let rid = try itvd.startRollout(app, "2.0")
                    try await itvd.waitForApproval(rid, wave: 1)

                    let text = try itvd.ok(["metrics"])
                    let check = try promtoolCheck(text, dir: temp.path)
                    #expect(check.status == 0, "promtool: \(check.stdout)\(check.stderr)\n\(text)")
                    let tcp = try runProgram(
                        "/usr/bin/curl", ["-sS", "--max-time", "30", "http://127.0.70.250:9464/metrics"])
                    #expect(tcp.status == 0, "\(tcp.stderr)")
                    #expect(try promtoolCheck(tcp.stdout, dir: temp.path).status == 0, "\(tcp.stdout)")
                    let other = try runProgram(
                        "/usr/bin/curl",
                        ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.70.250:9464/v1/status"])
                    #expect(other.stdout == "404")

                    let m = parseExposition(text)
                    #expect(Set(parseExposition(tcp.stdout).keys) == Set(m.keys))
                    let status = try e2eDecode(StatusResponse.self, try itvd.ok(["--json", "status"]))
                    let hosts = try e2eDecode(HostListResponse.self, try itvd.ok(["--json", "host", "list"]))
                    #expect(sample(m, "itv_build_info", ["version": status.daemonVersion]) == 1)
                    let phases = [
                        "planned", "waiting_approval", "running", "baking", "halted", "paused", "rolling_back",
                    ]
                    let active = phases.compactMap { sample(m, "itv_rollouts", ["phase": $0]) }.reduce(0, +)
                    #expect(active == Double(status.activeRollouts))
                    let waiting = status.attention.filter { $0.phase == .waitingApproval }.count
                    #expect(sample(m, "itv_rollouts", ["phase": "waiting_approval"]) == Double(waiting))
                    #expect(sample(m, "itv_waves_waiting_approval") == 1)

                    // Drift, as host list shows it.
                    var drift: [String: Int] = [:]
                    var behind = 0
                    for host in hosts.hosts {
                        for p in host.procedures {
                            let state =
                                p.current
                                ? "current"
                                : p.seenAt == nil
                                    ? "not_scanned"
                                    : p.latest == nil ? "no_release" : p.version == nil ? "not_installed" : "behind"
                            drift["\(host.tenant) \(state)", default: 0] += 1
                            if state == "behind" || state == "not_installed" { behind += 1 }
                        }
                    }
                    #expect(drift.values.reduce(0, +) == 4)
                    for (key, count) in drift {
                        let parts = key.split(separator: " ").map(String.init)
                        #expect(
                            sample(m, "itv_host_procedures", ["tenant": parts[0], "state": parts[1]]) == Double(count),
                            "\(key)")
                    }
                    // fleet-001 and the canary now run 2.0; the rest are behind or not installed.
                    #expect(sample(m, "itv_hosts_behind", ["procedure": app]) == Double(behind))
                    #expect(behind >= 2)
                    let tenants = Set(hosts.hosts.map(\.tenant))
                    for tenant in tenants {
                        #expect(
                            sample(m, "itv_hosts", ["tenant": tenant])
                                == Double(hosts.hosts.filter { $0.tenant == tenant }.count))
                    }
                    #expect(sample(m, "itv_feed_up", ["procedure": app]) == 1)
                    #expect((sample(m, "itv_feed_last_success_timestamp_seconds", ["procedure": app]) ?? 0) > 1.7e9)
                    #expect(sample(m, "itv_host_runs_total", ["outcome": "succeeded"]) == 1)
                    // The canary (fleet-001) already ran 2.0: detect only.
                    #expect(
                        (sample(m, "itv_step_duration_seconds_count", ["step": "detect", "outcome": "ok"]) ?? 0) >= 1)
                    #expect(!text.contains("fleet-0"), "no per-host labels")

                    // release.detected went to the outbox with the release; a broken feed adds feed.broken.
                    func pending() throws -> Int? {
                        try e2eDecode(NotifyListResponse.self, try itvd.ok(["--json", "notify", "list"])).sinks.first?
                            .pending
                    }
                    #expect(try pending() == 1)
                    #expect(sample(m, "itv_notify_pending", ["sink": "dead"]) == 1)
                    try FileManager.default.removeItem(atPath: temp.path + "/feed.txt")
                    _ = try itvd.ctl(["feed", "check", app])
                    #expect(try pending() == 2)
                    #expect(sample(parseExposition(try itvd.ok(["metrics"])), "itv_feed_up", ["procedure": app]) == 0)
                }
            }
        }
    }
}
