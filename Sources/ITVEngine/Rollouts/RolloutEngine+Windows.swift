import Foundation
import ITVCore
import Logging

// Patch windows, drift scans, and the journal voice of rollouts.
extension RolloutEngine {
    /// Opens a declared window for `duration` (default: the window's configured duration). The audit entry
    /// says for how long, and the operator's comment.
    public func openWindow(_ name: String, duration: TimeSpan?, by requester: Requester, comment: String? = nil)
        async throws -> WindowRecord
    {
        guard let spec = set.config.windows[name] else {
            let declared = set.config.windows.keys.sorted()
            throw EngineError(
                .notFound,
                "no window \(name); declared: \(declared.isEmpty ? "none" : declared.joined(separator: ", "))")
        }
        let now = clock.now()
        let length = duration ?? spec.duration
        let record = WindowRecord(
            name: name, openUntil: now + length.seconds * 1000, changedBy: requester.user, changedAt: now)
        windows[name] = record
        try await persist(
            [
                .window(record),
                .audit(
                    audit(
                        requester, "window.open", "window \(name)",
                        ["for \(length)", comment].compactMap { $0 }.joined(separator: ": "))),
            ], actions: [])
        logger.notice(
            "window \(name) opened by \(requester.user) for \(length)",
            metadata: ["event": "\(ITVEvent.windowOpened.rawValue)", "user": "\(requester.user)", "window": "\(name)"])
        if let until = record.openUntil { workContinuation.yield(.windowEnd(name: name, until: until)) }
        await windowChanged(name, by: requester.user)
        return record
    }

    public func closeWindow(_ name: String, by requester: Requester, comment: String? = nil) async throws
        -> WindowRecord
    {
        guard set.config.windows[name] != nil || windows[name] != nil else {
            throw EngineError(.notFound, "no window \(name)")
        }
        let record = WindowRecord(name: name, openUntil: nil, changedBy: requester.user, changedAt: clock.now())
        windows[name] = record
        try await persist(
            [.window(record), .audit(audit(requester, "window.close", "window \(name)", comment))], actions: [])
        logger.notice(
            "window \(name) closed by \(requester.user)",
            metadata: ["event": "\(ITVEvent.windowClosed.rawValue)", "user": "\(requester.user)", "window": "\(name)"])
        await windowChanged(name, by: requester.user)
        return record
    }

    /// Every declared window with its state.
    public func windowList() -> [(spec: WindowSpec, record: WindowRecord?, open: Bool)] {
        set.config.windows.values.sorted { $0.name < $1.name }.map { ($0, windows[$0.name], isWindowOpen($0.name)) }
    }

    func windowTimeElapsed(_ name: String, until: EpochMillis) async {
        guard let record = windows[name], record.openUntil == until else { return }  // reopened or closed since
        let closed = WindowRecord(name: name, openUntil: nil, changedBy: "itvd", changedAt: clock.now())
        windows[name] = closed
        do {
            try await persist([.window(closed)], actions: [])
        } catch {
            return
        }
        logger.notice(
            "window \(name) closed: its time is up",
            metadata: ["event": "\(ITVEvent.windowClosed.rawValue)", "window": "\(name)"])
        await windowChanged(name, by: "itvd")
    }

    /// Tells the rollouts of a window that it opened or closed. Each gets the window's state as it is when
    /// its event is applied, not as it was when the change began: an open and a close at the same moment
    /// interleave here, and the last event a rollout gets must be the window's real state.
    func windowChanged(_ name: String, by user: String) async {
        for id in machines.keys.sorted() where machines[id]?.rollout.recipe.window == name {
            do {
                try await apply(id, .windowChanged(open: isWindowOpen(name), by: user))
            } catch {
                logger.error(
                    "rollout \(id): cannot apply window \(name) change: \(error)", metadata: ["rollout": "\(id)"])
            }
        }
        if !set.inventory.tenants(servedBy: name).isEmpty { await tenantWindowsChanged() }
    }

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

    /// Journals a rollout's notable moments with the operators' words and stable event names.
    func announce(_ notice: RolloutNotice, rollout id: Int64) {
        guard let machine = machines[id] else { return }
        let r = machine.rollout
        var meta: Logger.Metadata = ["rollout": "\(id)", "procedure": "\(r.procedure)", "version": "\(r.version)"]
        func wave(_ i: Int) -> String {
            meta["wave"] = "\(i + 1)"
            return
                "wave \(i + 1) (\(machine.snapshot.waves.indices.contains(i) ? machine.snapshot.waves[i].name : "?"))"
        }
        func host(_ h: String) -> String {
            meta["host"] = "\(h)"
            if let run = machine.hostRun(h) { meta["wave"] = "\(run.wave + 1)" }
            if let tenant = set.inventory.host(named: h)?.tenant { meta["tenant"] = "\(tenant)" }
            return h
        }
        let head = "rollout \(id) (\(r.procedure) \(r.version))"
        let (level, event, message): (Logger.Level, ITVEvent, String)
        switch notice {
        case .waveWaiting(let w, let kind):
            (level, event, message) = (
                .notice, .waveWaiting,
                "\(head): \(wave(w)) waits for "
                    + (kind == .window ? "window \(r.recipe.window ?? "?") to open" : "an operator's approval")
            )
        case .waveApproved(let w, let by, let complete):
            (level, event, message) = (
                .notice, .waveApproved,
                "\(head): \(wave(w)) approved by \(by)"
                    + (complete ? "" : ", more approvals needed")
            )
            meta["user"] = "\(by)"
        case .waveStarted(let w): (level, event, message) = (.info, .waveStarted, "\(head): \(wave(w)) started")
        case .waveDone(let w): (level, event, message) = (.info, .waveSucceeded, "\(head): \(wave(w)) done")
        case .hostSucceeded(let h, let current):
            (level, event, message) = (
                .info, .hostSucceeded,
                "\(head): \(host(h)) "
                    + (current ? "already runs \(r.version)" : "now runs \(r.version)")
            )
        case .hostFailed(let h, let kind, let m):
            (level, event, message) = (.error, .hostFailed, "\(head): \(host(h)) failed (\(kind)): \(m)")
        case .hostUnknown(let h, let m):
            (level, event, message) = (.warning, .hostUnknown, "\(head): \(host(h)) outcome unknown: \(m)")
        case .hostRolledBack(let h, let ok, let m):
            (level, event, message) =
                ok
                ? (.notice, .hostRolledBack, "\(head): \(host(h)) rolled back")
                : (.error, .hostRollbackFailed, "\(head): \(host(h)) could not be rolled back: \(m ?? "")")
        case .halted(let reason): (level, event, message) = (.error, .rolloutHalted, "\(head) halted: \(reason)")
        case .paused: (level, event, message) = (.notice, .rolloutPaused, "\(head) paused")
        case .resumed: (level, event, message) = (.notice, .rolloutResumed, "\(head) resumed")
        case .aborted(let reason): (level, event, message) = (.warning, .rolloutAborted, "\(head) aborted: \(reason)")
        case .rollingBack(let reason):
            (level, event, message) = (.warning, .rolloutRollingBack, "\(head) rolling back: \(reason)")
        case .succeeded: (level, event, message) = (.notice, .rolloutSucceeded, "\(head) succeeded")
        case .rolledBack: (level, event, message) = (.notice, .rolloutRolledBack, "\(head) rolled back")
        case .failed(let reason): (level, event, message) = (.error, .rolloutFailed, "\(head) failed: \(reason)")
        case .hostileOutput(let h, let m):
            (level, event, message) = (
                .warning, .hostileOutput, "\(head): \(host(h)) sent output that was rejected: \(m)"
            )
        case .hostReboot(let h, let m):
            (level, event, message) = (.notice, .hostReboot, "\(head): \(host(h)) restarts: \(m)")
        case .hostDeferred(let h, let reason, let m, let retryAt):
            let wait = TimeSpan(seconds: max(0, retryAt - clock.now()) / 1000)
            meta["reason"] = "\(reason.rawValue)"
            (level, event, message) = (
                .notice, .hostDeferred,
                "\(head): \(host(h)) deferred (\(reason.rawValue.replacingOccurrences(of: "_", with: " "))): \(m); "
                    + "tried again in \(wait)"
            )
        case .hostUnreached(let h, let m):
            (level, event, message) = (.warning, .hostUnreached, "\(head): \(host(h)) unreached: \(m)")
        case .hostWoken(let h, let lead):
            let target = set.wakeOnLAN(for: h)
            meta["mac"] = "\(set.inventory.host(named: h)?.mac ?? "?")"
            (level, event, message) = (
                .info, .hostWake,
                "\(head): \(host(h)) woken: Wake-on-LAN packet to \(target.map { "\($0.address):\($0.port)" } ?? "?"), "
                    + "run in \(TimeSpan(seconds: lead))"
            )
        case .catchingUp(let deferred):
            (level, event, message) = (
                .notice, .rolloutCatchingUp,
                "\(head): every wave done; catching up \(deferred) deferred host(s)"
            )
        case .incomplete(let unreached, let count):
            (level, event, message) = (
                .warning, .rolloutIncomplete,
                "\(head) incomplete: \(count) host(s) unreached: \(unreached.joined(separator: ", "))"
                    + (count > unreached.count ? ", ..." : "")
            )
        }
        meta["event"] = "\(event.rawValue)"
        logger.log(level: level, "\(message)", metadata: meta)
    }
}
