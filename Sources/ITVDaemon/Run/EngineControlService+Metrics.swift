import Foundation
import ITVControlServer
import ITVCore
import ITVEngine
import ITVProtocol

/// What the metrics need from the daemon beside the engine and the store.
struct MetricsExtras: Sendable {
    /// Procedure -> feed health, for procedures whose feed was polled since itvd started.
    var feeds: [String: (up: Bool, lastSuccess: Double?)] = [:]
    /// Sink name -> notifications not yet delivered.
    var outboxPending: [String: Int] = [:]
}

extension EngineControlService {
    func metrics(caller: Caller) async throws -> String {
        guard let metrics else { throw APIError(.notFound, "this itvd exports no metrics") }
        return try await metricsText(metrics, caller: caller)
    }

    /// Reads the state the way `status` and `host list` do, then renders it. A tenant reader gets the figures of
    /// its tenants' hosts and of the rollouts that have some of them (no outbox counts, no lifetime counters:
    /// they count every tenant).
    func metricsText(_ metrics: DaemonMetrics, caller: Caller = Self.metricsCaller) async throws -> String {
        let status = try await self.status(caller: caller)
        let hosts = try await hostList(caller: caller, HostListRequest(query: [:]))
        let set = await engine.set
        let visible = hostFilter(caller, set)
        let active = await engine.activeSnapshots().compactMap { scoped($0, visible) }.map {
            RolloutInfo.Phase(rawValue: $0.rollout.phase.rawValue)
        }
        let extras = await hooks.metricsExtras()
        return metrics.render(
            DaemonMetrics.State(
                status: status, hosts: hosts, active: active.compactMap { $0 },
                tenants: set.inventory.tenants.keys.filter(caller.reads.contains).sorted(),
                procedures: set.playbooks.map(\.id), feeds: extras.feeds,
                outboxPending: caller.reads.isAll ? extras.outboxPending : [:], includeCounters: caller.reads.isAll))
    }

    /// The daemon itself, reading for a scrape (the TCP listener has no peer credentials).
    static let metricsCaller = Caller(user: "itvd", uid: 0, gid: 0, groups: [], mayChange: false)
}

extension EngineControlService {
    func notifyList(caller: Caller) async throws -> NotifyListResponse {
        do {
            return try await hooks.notifyList()
        } catch let e as StoreError {
            throw APIError(.unavailable, "the state store failed: \(e.message)")
        }
    }

    func notifyTest(caller: Caller, name: String) async throws -> NotifyTestResponse {
        guard let answer = await hooks.notifyTest(name, by: requester(caller)) else {
            let names = await engine.set.config.notify.map(\.name)
            throw APIError(.notFound, "no notify sink \(name)" + Suggest.didYouMean(name, names))
        }
        return answer
    }
}
