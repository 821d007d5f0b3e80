import ITVCore

// What a rollout's state machine is built with: its hosts' OS, the windows' state and the hosts held by their
// tenant's windows, and the hash a plan would have now.
extension RolloutEngine {
    /// The OS of each host of a rollout, from the inventory (what its `install` exit codes mean).
    func hostOS(of snapshot: RolloutSnapshot) -> [String: OSFamily] {
        var result: [String: OSFamily] = [:]
        for run in snapshot.hostRuns {
            if let host = set.inventory.host(named: run.host) { result[run.host] = host.os }
        }
        return result
    }

    func isWindowOpen(_ name: String) -> Bool { windows[name]?.isOpen(at: clock.now()) ?? false }

    /// A state machine for a snapshot with the windows' state as it is now: the rollout's window, and which
    /// hosts wait for their tenant's windows.
    func machine(_ snapshot: RolloutSnapshot) -> RolloutStateMachine {
        let open = snapshot.rollout.recipe.window.map { isWindowOpen($0) } ?? false
        return RolloutStateMachine(snapshot: snapshot, windowOpen: open, heldHosts: heldHosts(snapshot))
    }

    /// The rollout's hosts whose tenant names windows none of which is open now. A host no longer in the
    /// inventory is not held here (its run fails as `host_unknown`).
    func heldHosts(_ snapshot: RolloutSnapshot) -> Set<String> {
        var openByTenant: [String: Bool] = [:]
        var held = Set<String>()
        for run in snapshot.hostRuns {
            guard let tenant = set.inventory.host(named: run.host)?.tenant,
                let windows = set.inventory.tenants[tenant]?.windows, !windows.isEmpty
            else { continue }
            if openByTenant[tenant] == nil { openByTenant[tenant] = windows.contains(where: isWindowOpen) }
            if openByTenant[tenant] == false { held.insert(run.host) }
        }
        return held
    }

    /// Tells every active rollout which of its hosts wait for their tenant's windows (when that changed).
    func tenantWindowsChanged() async {
        for id in machines.keys.sorted() {
            guard let machine = machines[id] else { continue }
            let held = heldHosts(machine.snapshot)
            if held != machine.heldHosts { _ = try? await apply(id, .tenantWindowsChanged(held: held)) }
        }
    }

    /// The hash a plan of this rollout would have with the current playbook and inventory.
    func currentPlanHash(for id: Int64) -> String? {
        guard let rollout = machines[id]?.rollout else { return nil }
        guard let playbook = set.playbooks.first(where: { $0.id == rollout.procedure }) else {
            return "procedure-removed"
        }
        let artifact: PlannedArtifact?
        do { artifact = try plannedArtifact(playbook, rollout.version) } catch { return "artifact-unavailable" }
        switch WavePlanner.plan(
            playbook: playbook, inventory: set.inventory, version: rollout.version, artifact: artifact)
        {
        case .success(let plan): return plan.hash
        case .failure: return "plan-invalid"
        }
    }
}
