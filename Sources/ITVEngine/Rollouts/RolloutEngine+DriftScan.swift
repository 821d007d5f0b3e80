import Foundation
import ITVCore
import Logging

// Drift scans: `detect` of a procedure on its hosts on demand, and what the hosts report.
extension RolloutEngine {
    /// Runs `detect` of a procedure on its hosts now (all procedures when nil), at most `parallel` at once,
    /// and stores what was found.
    public func scan(procedure: String?, by requester: Requester, parallel: Int) async throws -> [HostVersionRecord] {
        let playbooks = try procedure.map { [try playbook($0)] } ?? set.playbooks
        var jobs: [(Playbook, ITVCore.Host)] = []
        for p in playbooks {
            for h in set.inventory.hosts(forTargets: p.targets.map(\.value)) { jobs.append((p, h)) }
        }
        let executor = self.executor
        let clock = self.clock
        let found = await withTaskGroup(of: HostVersionRecord?.self) { group in
            var results: [HostVersionRecord] = []
            var next = 0
            func add() {
                guard next < jobs.count else { return }
                let (p, h) = jobs[next]
                next += 1
                group.addTask { await Self.detect(p, on: h, executor: executor, clock: clock) }
            }
            for _ in 0..<max(1, parallel) { add() }
            for await result in group {
                if let result { results.append(result) }
                add()
            }
            return results
        }
        try await persist(
            found.map { .hostVersion($0) } + [
                .audit(audit(requester, "host.scan", procedure ?? "all procedures", nil))
            ],
            actions: [])
        return found
    }

    static func detect(_ p: Playbook, on host: ITVCore.Host, executor: any RemoteExecutor, clock: any EngineClock) async
        -> HostVersionRecord?
    {
        guard let template = p.steps.detect.template(for: host.os),
            case .success(let command) = template.render(
                [.version: "", .previous: "", .host: host.name, .procedure: p.id], for: host.os)
        else { return nil }
        guard case .success(let session) = await executor.connect(to: RemoteHost(host)) else { return nil }
        defer { Task { await session.close() } }
        guard case .ok(0, let stdout, _, _) = await session.run(command, timeout: .seconds(p.steps.timeout.seconds))
        else {
            return nil
        }
        let line = stdout.text.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        if line.isEmpty {
            return HostVersionRecord(host: host.name, procedure: p.id, version: nil, seenAt: clock.now())
        }
        guard case .success(let v) = (p.feed?.scheme ?? .dotted).parse(line) else { return nil }
        return HostVersionRecord(host: host.name, procedure: p.id, version: v.raw, seenAt: clock.now())
    }
}
