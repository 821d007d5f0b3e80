import ITVCore
import Logging

// What operators (through the control socket) and the feed watcher ask of the engine.
extension RolloutEngine {
    /// The plan a new rollout of `procedure` to `version` would have now.
    public func plan(procedure: String, version: String) throws -> RolloutPlan {
        let playbook = try self.playbook(procedure)
        let parsed = playbook.feed?.scheme ?? .dotted
        if case .failure(let e) = parsed.parse(version) {
            throw EngineError("invalid", "cannot plan \(procedure): \(e)")
        }
        switch WavePlanner.plan(playbook: playbook, inventory: set.inventory, version: version) {
        case .success(let plan): return plan
        case .failure(let e): throw EngineError("invalid", e.message)
        }
    }

    func playbook(_ procedure: String) throws -> Playbook {
        guard let playbook = set.playbooks.first(where: { $0.id == procedure }) else {
            throw EngineError(
                "not_found", "no procedure \(procedure)" + Suggest.didYouMean(procedure, set.playbooks.map(\.id)))
        }
        return playbook
    }

    /// Creates a rollout and moves it to its first wave. Refused while another rollout of the same
    /// procedure is active.
    public func createRollout(procedure: String, version: String, by requester: Requester, comment: String? = nil)
        async throws
        -> RolloutSnapshot
    {
        let plan = try self.plan(procedure: procedure, version: version)
        if let other = machines.values.first(where: { $0.rollout.procedure == procedure && !$0.rollout.phase.isFinal })
        {
            throw EngineError(
                "conflict",
                "cannot start a rollout of \(procedure): rollout \(other.rollout.id) "
                    + "(\(other.rollout.version), \(other.rollout.phase.rawValue)) is still active; finish or abort it first"
            )
        }
        let playbook = try self.playbook(procedure)
        let id = try await store.allocateRolloutID()
        let now = clock.now()
        var machine = RolloutStateMachine.create(
            id: id, plan: plan, recipe: RolloutRecipe(playbook: playbook), createdBy: requester.user, now: now)
        if let window = playbook.rollout.window {
            _ = machine.handle(.windowChanged(open: isWindowOpen(window), by: "itvd"), now: now)
        }
        // Created and started in one transaction: a crash leaves either no rollout or a started one.
        let actions: [RolloutAction]
        switch machine.handle(.start, now: now) {
        case .success(let a): actions = a
        case .failure(let e): throw EngineError(e)
        }
        machines[id] = machine
        logger.notice(
            "rollout \(id) created: \(procedure) to \(version), \(plan.hostCount) hosts in \(plan.waves.count) waves",
            metadata: [
                "event": "\(ITVEvent.rolloutCreated.rawValue)", "rollout": "\(id)", "procedure": "\(procedure)",
                "version": "\(version)", "user": "\(requester.user)",
            ])
        let record = audit(requester, "rollout.start", "rollout \(id) (\(procedure) \(version))", comment)
        do {
            try await persist(
                machine.snapshot.changes(since: nil) + [.audit(record)] + startedNotification(machine)
                    + notifications(for: .start, actions: actions, machine: machine),
                actions: actions.map { (id, $0) },
                snapshot: machine.snapshot)
        } catch {
            machines[id] = nil
            throw error
        }
        return machine.snapshot
    }

    public func approve(_ id: Int64, wave: Int? = nil, planHash: String, comment: String?, by requester: Requester)
        async throws
        -> RolloutSnapshot
    {
        let machine = try active(id)
        let approval = ApprovalRecord(
            rolloutID: id, wave: wave ?? machine.rollout.currentWave, source: .operator, user: requester.user,
            uid: requester.uid, comment: comment, planHash: planHash, at: clock.now())
        return try await apply(
            id, .approve(approval), audit: audit(requester, "rollout.approve", "rollout \(id)", comment))
    }

    public func pause(_ id: Int64, by requester: Requester, reason: String?) async throws -> RolloutSnapshot {
        try active(id)
        return try await apply(
            id, .pause(by: requester.user), audit: audit(requester, "rollout.pause", "rollout \(id)", reason))
    }

    public func resume(_ id: Int64, by requester: Requester, reason: String?) async throws -> RolloutSnapshot {
        try active(id)
        return try await apply(
            id, .resume(by: requester.user), audit: audit(requester, "rollout.resume", "rollout \(id)", reason))
    }

    public func abort(_ id: Int64, by requester: Requester, reason: String?) async throws -> RolloutSnapshot {
        try active(id)
        let why = reason ?? "aborted by \(requester.user)"
        return try await apply(
            id, .abort(by: requester.user, reason: why),
            audit: audit(requester, "rollout.abort", "rollout \(id)", reason))
    }

    /// Rolls back a rollout, also one that already ended (succeeded or aborted).
    public func rollback(_ id: Int64, by requester: Requester, reason: String?) async throws -> RolloutSnapshot {
        if machines[id] == nil {
            guard let snapshot = try await store.rollout(id: id) else {
                throw EngineError("not_found", "no rollout \(id)")
            }
            let open = snapshot.rollout.recipe.window.map { isWindowOpen($0) } ?? false
            machines[id] = RolloutStateMachine(snapshot: snapshot, windowOpen: open)
            durable[id] = snapshot
        }
        let why = reason ?? "rolled back by \(requester.user)"
        do {
            return try await apply(
                id, .rollback(by: requester.user, reason: why),
                audit: audit(requester, "rollout.rollback", "rollout \(id)", reason))
        } catch {
            if machines[id]?.rollout.phase.isFinal == true {
                machines[id] = nil
                durable[id] = nil
            }
            throw error
        }
    }

    public func retry(_ id: Int64, host: String, by requester: Requester) async throws -> RolloutSnapshot {
        try active(id)
        return try await apply(
            id, .retry(host: host, by: requester.user),
            audit: audit(requester, "rollout.retry", "rollout \(id) host \(host)", nil))
    }

    public func skip(_ id: Int64, host: String, by requester: Requester) async throws -> RolloutSnapshot {
        try active(id)
        return try await apply(
            id, .skip(host: host, by: requester.user),
            audit: audit(requester, "rollout.skip", "rollout \(id) host \(host)", nil))
    }

    /// A rollout's snapshot as committed: the live one when active, else the stored one.
    public func snapshot(_ id: Int64) async throws -> RolloutSnapshot {
        if let committed = durable[id] { return committed }
        guard let stored = try await store.rollout(id: id) else { throw EngineError("not_found", "no rollout \(id)") }
        return stored
    }

    /// The active rollouts as committed.
    public func activeSnapshots() -> [RolloutSnapshot] { durable.keys.sorted().compactMap { durable[$0] } }

    /// The snapshot now, then every change, until the rollout ends (or the caller stops listening).
    public func updates(_ id: Int64) async throws -> AsyncStream<RolloutSnapshot> {
        let first = try await snapshot(id)
        let (stream, continuation) = AsyncStream.makeStream(
            of: RolloutSnapshot.self, bufferingPolicy: .bufferingNewest(16))
        continuation.yield(first)
        guard machines[id] != nil else {
            continuation.finish()
            return stream
        }
        let key = nextSubscriber
        nextSubscriber += 1
        subscribers[id, default: [:]][key] = continuation
        continuation.onTermination = { _ in Task { await self.unsubscribe(id, key) } }
        return stream
    }

    func unsubscribe(_ id: Int64, _ key: Int) { subscribers[id]?[key] = nil }

    /// Replaces playbooks and inventory (a reload). Running rollouts keep their plan; when a new plan of
    /// one would differ, its pending approvals no longer count.
    public func reload(_ newSet: LoadedSet) async {
        set = newSet
        for id in machines.keys.sorted() {
            guard let hash = currentPlanHash(for: id) else { continue }
            _ = try? await apply(id, .planChanged(hash: hash))
        }
        for (id, machine) in machines {
            if let window = machine.rollout.recipe.window {
                _ = try? await apply(id, .windowChanged(open: isWindowOpen(window), by: "itvd"))
            }
        }
    }

    @discardableResult
    func active(_ id: Int64) throws -> RolloutStateMachine {
        guard let machine = machines[id] else {
            throw EngineError("not_found", "no active rollout \(id) (itvctl rollout list --all shows finished ones)")
        }
        return machine
    }

    func audit(_ requester: Requester, _ action: String, _ target: String, _ comment: String?) -> AuditRecord {
        AuditRecord(
            at: clock.now(), user: requester.user, uid: requester.uid, action: action, target: target, comment: comment,
            outcome: "ok")
    }

    /// Records an operator action that is not a rollout event (window, reload, scan) or a denied request.
    public func recordAudit(_ record: AuditRecord) async throws {
        try await persist([.audit(record)], actions: [])
        let level: Logger.Level = record.outcome == "denied" ? .warning : .notice
        logger.log(
            level: level, "\(record.user) (uid \(record.uid)): \(record.action) \(record.target): \(record.outcome)",
            metadata: [
                "event":
                    "\(record.outcome == "denied" ? ITVEvent.permissionDenied.rawValue : ITVEvent.operatorAction.rawValue)",
                "user": "\(record.user)", "uid": "\(record.uid)",
            ])
    }

    /// A one-line summary for `STATUS=` and `itvctl status`.
    public func statusLine() -> String {
        let active = durable.values.filter { !$0.rollout.phase.isFinal }
        let waiting = active.filter { $0.rollout.phase.waitsForPerson }.count
        let open = windows.values.filter { $0.isOpen(at: clock.now()) }.map(\.name).sorted()
        var parts = ["\(active.count) rollouts active", "\(waiting) waiting for an operator"]
        parts.append(open.isEmpty ? "no window open" : "window \(open.joined(separator: ", ")) open")
        return parts.joined(separator: ", ")
    }
}
