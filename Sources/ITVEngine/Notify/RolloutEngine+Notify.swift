import ITVCore

// Notifications: decided where the journal's events are, written to the outbox in the same batch (the same
// SQLite transaction) as the change that caused them, delivered by `OutboxSender` after the commit.
extension RolloutEngine {
    /// The sinks that get notifications, and the waker of their senders (set once at start).
    public func setNotify(sinks: [NotifySink], waker: OutboxWaker?) {
        notifySinks = sinks
        outboxWaker = waker
    }

    /// Outbox records for what a rollout event led to.
    func notifications(for event: RolloutInput, actions: [RolloutAction], machine: RolloutStateMachine)
        -> [StoreChange]
    {
        guard !notifySinks.isEmpty else { return [] }
        var out: [NotifyMessage] = []
        for case .announce(let notice) in actions {
            if let n = notification(notice, machine) { out.append(n) }
        }
        if case .stepFinished(let host, _, .notRun(let kind, let message)) = event, kind == "hostkey_mismatch" {
            let r = machine.rollout
            out.append(
                NotifyMessage(
                    event: .hostkeyMismatch, at: clock.now(), tenants: tenants(of: [host]), rollout: r.id,
                    procedure: r.procedure, version: r.version, wave: machine.hostRun(host).map { $0.wave + 1 },
                    hosts: [host],
                    message: "host key of \(host) changed: itvd refuses it (\(escapedForMessage(message)))",
                    command: "ssh-keyscan the host, check the fingerprint out of band, then itvctl rollout retry "
                        + "\(r.id) --host \(host)"))
        }
        return out.flatMap { OutboxRecord.records($0, sinks: notifySinks, at: clock.now()) }
    }

    /// The `rollout.started` notification of a new rollout.
    func startedNotification(_ machine: RolloutStateMachine) -> [StoreChange] {
        guard !notifySinks.isEmpty else { return [] }
        let r = machine.rollout
        let hosts = machine.snapshot.hostRuns.map(\.host)
        let n = NotifyMessage(
            event: .rolloutStarted, at: clock.now(), tenants: tenants(of: hosts), rollout: r.id,
            procedure: r.procedure, version: r.version, hosts: [], planHash: r.planHash,
            message:
                "\(r.procedure) \(r.version): rollout \(r.id) started by \(r.createdBy), \(hosts.count) hosts in "
                + "\(machine.snapshot.waves.count) waves",
            command: "itvctl rollout show \(r.id)")
        return OutboxRecord.records(n, sinks: notifySinks, at: clock.now())
    }

    func tenants(of hosts: [String]) -> [String] {
        Array(Set(hosts.compactMap { set.inventory.host(named: $0)?.tenant })).sorted()
    }

    func notification(_ notice: RolloutNotice, _ machine: RolloutStateMachine) -> NotifyMessage? {
        let r = machine.rollout
        let head = "\(r.procedure) \(r.version)"
        let all = machine.snapshot.hostRuns.map(\.host)
        func make(
            _ event: NotifyEvent, wave: Int? = nil, hosts: [String] = [], message: String, command: String? = nil
        ) -> NotifyMessage {
            let waveHosts = wave.map { w in machine.hostRuns(inWave: w).map(\.host) } ?? hosts
            return NotifyMessage(
                event: event, at: clock.now(),
                tenants: tenants(of: wave == nil ? (hosts.isEmpty ? all : hosts) : waveHosts),
                rollout: r.id, procedure: r.procedure, version: r.version, wave: wave.map { $0 + 1 },
                waveName: wave.flatMap {
                    machine.snapshot.waves.indices.contains($0) ? machine.snapshot.waves[$0].name : nil
                },
                hosts: wave == nil ? hosts : waveHosts, planHash: r.planHash, message: message, command: command)
        }
        func waveName(_ w: Int) -> String {
            "wave \(w + 1) (\(machine.snapshot.waves.indices.contains(w) ? machine.snapshot.waves[w].name : "?"))"
        }
        switch notice {
        case .waveWaiting(let w, let kind):
            guard kind == .operator else { return nil }  // a window wave starts by itself
            return make(
                .waveWaiting, wave: w, message: "\(head): \(waveName(w)) waits for approval",
                command: "itvctl rollout approve \(r.id)")
        case .waveApproved(let w, let by, let complete):
            guard by != "itvd" else { return nil }  // an automatic wave: nobody approved anything
            return make(
                .waveApproved, wave: w,
                message: "\(head): \(waveName(w)) approved by \(by)" + (complete ? "" : ", more approvals needed"))
        case .halted(let reason):
            let failed = machine.snapshot.hostRuns.filter { [.failed, .unknown].contains($0.phase) }.map(\.host)
            return make(
                .rolloutHalted, hosts: failed, message: "\(head): rollout \(r.id) halted: \(reason)",
                command: "itvctl rollout show \(r.id)")
        case .aborted(let reason):
            return make(.rolloutAborted, message: "\(head): rollout \(r.id) aborted: \(reason)")
        case .succeeded:
            return make(.rolloutSucceeded, message: "\(head): rollout \(r.id) succeeded on \(all.count) hosts")
        case .rolledBack:
            return make(.rolloutRolledBack, message: "\(head): rollout \(r.id) rolled back")
        case .incomplete(let unreached, let count):
            let listed = unreached.joined(separator: ", ") + (count > unreached.count ? ", ..." : "")
            return make(
                .rolloutIncomplete, hosts: unreached,
                message: "\(head): rollout \(r.id) incomplete: \(count) host(s) unreached: \(listed)",
                command: "itvctl rollout show \(r.id)")
        case .failed(let reason):
            return make(
                .rolloutFailed, message: "\(head): rollout \(r.id) failed: \(reason)",
                command: "itvctl rollout show \(r.id)")
        default:
            return nil
        }
    }

    /// Wakes the senders of the sinks that got records in these changes.
    func wakeSenders(_ changes: [StoreChange]) {
        guard let outboxWaker else { return }
        var sinks: Set<String> = []
        for case .outbox(let record) in changes { sinks.insert(record.sink) }
        if !sinks.isEmpty { outboxWaker.wake(sinks) }
    }
}
