import ITVCore

extension RolloutSnapshot {
    /// The store changes that turn `old` into `self`: changed rows only, new approvals appended.
    func changes(since old: RolloutSnapshot?) -> [StoreChange] {
        var changes: [StoreChange] = []
        if old?.rollout != rollout { changes.append(.rollout(rollout)) }
        for (i, wave) in waves.enumerated()
        where old.map({ !$0.waves.indices.contains(i) || $0.waves[i] != wave }) ?? true {
            changes.append(.wave(wave))
        }
        let oldApprovals = old?.approvals.count ?? 0
        if approvals.count > oldApprovals {
            changes += approvals[oldApprovals...].map { .approval($0) }
        }
        for (i, run) in hostRuns.enumerated()
        where old.map({ !$0.hostRuns.indices.contains(i) || $0.hostRuns[i] != run }) ?? true {
            changes.append(.hostRun(run))
        }
        return changes
    }
}
