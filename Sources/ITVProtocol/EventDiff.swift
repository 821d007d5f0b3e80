extension RolloutDetail {
    /// The events that turn `previous` into `self`, in the order a watcher applies them: approvals, host runs,
    /// waves, then the rollout (so that the event that may end a watch comes last). Lets the engine publish
    /// whole snapshots after each commit and send watchers only what changed.
    public func events(since previous: RolloutDetail, at: Int64) -> [RolloutEvent] {
        var events: [RolloutEvent] = []
        for approval in approvals.dropFirst(min(previous.approvals.count, approvals.count))
        where !previous.approvals.contains(approval) {
            events.append(RolloutEvent(kind: .approval, at: at, approval: approval))
        }
        let before = Dictionary(previous.hostRuns.map { ($0.host, $0) }, uniquingKeysWith: { _, last in last })
        for run in hostRuns where before[run.host] != run {
            events.append(RolloutEvent(kind: .hostRun, at: at, hostRun: run))
        }
        let wavesBefore = Dictionary(previous.waves.map { ($0.index, $0) }, uniquingKeysWith: { _, last in last })
        for wave in waves where wavesBefore[wave.index] != wave {
            events.append(RolloutEvent(kind: .wave, at: at, wave: wave))
        }
        if rollout != previous.rollout {
            events.append(RolloutEvent(kind: .rollout, at: at, rollout: rollout))
        }
        return events
    }
}
