import ITVCore
import Logging

// What operators (through the control socket) and the feed watcher ask of the engine.
extension RolloutEngine {
    /// The plan a new rollout of `procedure` to `version` would have now. For an `artifact:` playbook the
    /// release's artifact is verified first (downloaded once; the checksums fetched again), and is part of
    /// the plan: `artifact_rejected` when the release is rejected.
    public func plan(procedure: String, version: String) async throws -> RolloutPlan {
        try checkVersion(procedure, version)
        try await prepareArtifact(procedure: procedure, version: version)
        return try planNow(procedure: procedure, version: version)
    }

    func checkVersion(_ procedure: String, _ version: String) throws {
        let playbook = try self.playbook(procedure)
        let parsed = playbook.feed?.scheme ?? .dotted
        if case .failure(let e) = parsed.parse(version) {
            throw EngineError(.invalid, "cannot plan \(procedure): \(e)")
        }
    }

    /// The plan with the artifact record as it is now (no download).
    func planNow(procedure: String, version: String) throws -> RolloutPlan {
        let playbook = try self.playbook(procedure)
        try checkVersion(procedure, version)
        let artifact = try plannedArtifact(playbook, version)
        switch WavePlanner.plan(playbook: playbook, inventory: set.inventory, version: version, artifact: artifact) {
        case .success(let plan): return plan
        case .failure(let e): throw EngineError(.invalid, e.message)
        }
    }

    func playbook(_ procedure: String) throws -> Playbook {
        guard let playbook = set.playbooks.first(where: { $0.id == procedure }) else {
            throw EngineError(
                .notFound, "no procedure \(procedure)" + Suggest.didYouMean(procedure, set.playbooks.map(\.id)))
        }
        return playbook
    }

    /// Creates a rollout and moves it to its first wave. Refused (`conflict`) while another rollout of the
    /// same procedure is active or being started.
    ///
    /// The check and the decision are one step: the procedure is reserved before the first `await` (the id
    /// is allocated in the store), so a second start that arrives meanwhile is refused instead of passing
    /// the same check. The store's own constraint (one active rollout per procedure) is the second line.
    public func createRollout(procedure: String, version: String, by requester: Requester, comment: String? = nil)
        async throws
        -> RolloutSnapshot
    {
        if let storeFailure { throw EngineError(.unavailable, "the state store failed: \(storeFailure)") }
        _ = try await self.plan(procedure: procedure, version: version)
        let target = "rollout of \(procedure) \(version)"
        do {
            try refuseIfAnotherRolloutIsActive(procedure, except: nil, "cannot start a rollout of \(procedure)")
        } catch let refusal as EngineError {
            try await auditRefusal(requester, "rollout.start", target, comment, refusal)
            throw refusal
        }
        startsUnderWay[procedure] = requester.user
        defer { startsUnderWay[procedure] = nil }
        let id = try await store.allocateRolloutID()
        // Planned again after the await: a reload meanwhile may have changed or removed the playbook.
        let plan = try self.planNow(procedure: procedure, version: version)
        let playbook = try self.playbook(procedure)
        let now = clock.now()
        var machine = RolloutStateMachine.create(
            id: id, plan: plan, recipe: RolloutRecipe(playbook: playbook, artifact: plan.artifact),
            createdBy: requester.user, now: now, wakeLeads: set.wakeLeads(for: plan))
        machine.dispatchHeld = stopping
        if let window = playbook.rollout.window {
            _ = machine.handle(.windowChanged(open: isWindowOpen(window), by: "itvd"), now: now)
        }
        _ = machine.handle(.tenantWindowsChanged(held: heldHosts(machine.snapshot)), now: now)
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
            durable[id] = nil
            if let refusal = error as? EngineError, refusal.kind == .conflict {
                do {
                    try await auditRefusal(requester, "rollout.start", target, comment, refusal)
                } catch {
                    logAuditFailure(audit(requester, "rollout.start", target, comment), error)
                }
            }
            throw error
        }
        return machine.snapshot
    }

    /// Throws `conflict` when a rollout of `procedure` other than `id` is active or being started: at most
    /// one rollout of a procedure is active. Decides on the engine's own state, without suspending.
    func refuseIfAnotherRolloutIsActive(_ procedure: String, except id: Int64?, _ what: String) throws {
        if let other = machines.values.first(where: {
            $0.rollout.procedure == procedure && $0.rollout.id != id && !$0.rollout.phase.isFinal
        }) {
            throw EngineError(
                .conflict,
                "\(what): rollout \(other.rollout.id) of \(procedure) (\(other.rollout.version), "
                    + "\(other.rollout.phase.rawValue.replacingOccurrences(of: "_", with: " "))) is still active; "
                    + "at most one rollout of a procedure may be active: let it finish or abort it first")
        }
        if let starter = startsUnderWay[procedure] {
            throw EngineError(
                .conflict, "\(what): a rollout of \(procedure) is being started by \(starter) at this moment")
        }
    }

    /// Audits an operator's request the engine refused before it reached a rollout's state machine.
    func auditRefusal(
        _ requester: Requester, _ action: String, _ target: String, _ comment: String?, _ refusal: EngineError
    ) async throws {
        var record = audit(requester, action, target, comment)
        record.outcome = "error: \(refusal.kind)"
        try await persist([.audit(record)], actions: [])
    }

    public func approve(_ id: Int64, wave: Int? = nil, planHash: String, comment: String?, by requester: Requester)
        async throws
        -> RolloutSnapshot
    {
        let record = audit(requester, "rollout.approve", "rollout \(id)", comment)
        let machine = try await active(id, "approve", audit: record)
        let approval = ApprovalRecord(
            rolloutID: id, wave: wave ?? machine.rollout.currentWave, source: .operator, user: requester.user,
            uid: requester.uid, comment: comment, planHash: planHash, at: clock.now())
        return try await apply(id, .approve(approval), audit: record)
    }

    public func pause(_ id: Int64, by requester: Requester, reason: String?) async throws -> RolloutSnapshot {
        let record = audit(requester, "rollout.pause", "rollout \(id)", reason)
        try await active(id, "pause", audit: record)
        return try await apply(id, .pause(by: requester.user), audit: record)
    }

    public func resume(_ id: Int64, by requester: Requester, reason: String?) async throws -> RolloutSnapshot {
        let record = audit(requester, "rollout.resume", "rollout \(id)", reason)
        try await active(id, "resume", audit: record)
        return try await apply(id, .resume(by: requester.user), audit: record)
    }

    public func abort(_ id: Int64, by requester: Requester, reason: String?) async throws -> RolloutSnapshot {
        let record = audit(requester, "rollout.abort", "rollout \(id)", reason)
        try await active(id, "abort", audit: record)
        let why = reason ?? "aborted by \(requester.user)"
        return try await apply(id, .abort(by: requester.user, reason: why), audit: record)
    }

    /// Rolls back a rollout, also one that already ended (succeeded or aborted). Refused (`conflict`) while
    /// another rollout of the same procedure is active: it would revert the hosts the other one updates.
    ///
    /// An ended rollout is read from the store (an `await`); what was checked before is checked again after
    /// it, and a machine another request installed meanwhile is used, never replaced: of several rollbacks
    /// at once, the state machine lets one through and refuses the others.
    public func rollback(_ id: Int64, by requester: Requester, reason: String?) async throws -> RolloutSnapshot {
        let what = "cannot roll back rollout \(id)"
        var loaded = false
        if machines[id] == nil {
            guard let snapshot = try await store.rollout(id: id) else {
                throw EngineError(.notFound, "no rollout \(id)")
            }
            if machines[id] == nil {
                do {
                    try refuseIfAnotherRolloutIsActive(snapshot.rollout.procedure, except: id, what)
                } catch let refusal as EngineError {
                    try await auditRefusal(requester, "rollout.rollback", "rollout \(id)", reason, refusal)
                    throw refusal
                }
                machines[id] = machine(snapshot)
                durable[id] = snapshot
                loaded = true
            }
        }
        if !loaded, let procedure = machines[id]?.rollout.procedure {
            // An ended rollout still remembered (a step of it was in flight) is no different.
            do {
                try refuseIfAnotherRolloutIsActive(procedure, except: id, what)
            } catch let refusal as EngineError {
                try await auditRefusal(requester, "rollout.rollback", "rollout \(id)", reason, refusal)
                throw refusal
            }
        }
        let why = reason ?? "rolled back by \(requester.user)"
        do {
            return try await apply(
                id, .rollback(by: requester.user, reason: why),
                audit: audit(requester, "rollout.rollback", "rollout \(id)", reason))
        } catch {
            if let machine = machines[id], machine.rollout.phase.isFinal,
                !machine.snapshot.hostRuns.contains(where: \.stepInFlight)
            {
                // Refused: nothing changed. Forget the ended rollout again (unless a step of it is in flight).
                machines[id] = nil
                durable[id] = nil
            }
            throw error
        }
    }

    public func retry(_ id: Int64, host: String, by requester: Requester, comment: String? = nil) async throws
        -> RolloutSnapshot
    {
        let record = audit(requester, "rollout.retry", "rollout \(id) host \(host)", comment)
        try await active(id, "retry host \(host) of", audit: record)
        return try await apply(id, .retry(host: host, by: requester.user), audit: record)
    }

    public func skip(_ id: Int64, host: String, by requester: Requester, comment: String? = nil) async throws
        -> RolloutSnapshot
    {
        let record = audit(requester, "rollout.skip", "rollout \(id) host \(host)", comment)
        try await active(id, "skip host \(host) of", audit: record)
        return try await apply(id, .skip(host: host, by: requester.user), audit: record)
    }

    /// A rollout's snapshot as committed: the live one when active, else the stored one.
    public func snapshot(_ id: Int64) async throws -> RolloutSnapshot {
        if let committed = durable[id] { return committed }
        guard let stored = try await store.rollout(id: id) else { throw EngineError(.notFound, "no rollout \(id)") }
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
        scheduleAutoPlans()
        for id in machines.keys.sorted() {
            guard let hash = currentPlanHash(for: id) else { continue }
            _ = try? await apply(id, .planChanged(hash: hash))
        }
        for (id, machine) in machines {
            if let window = machine.rollout.recipe.window {
                _ = try? await apply(id, .windowChanged(open: isWindowOpen(window), by: "itvd"))
            }
        }
        await tenantWindowsChanged()  // a tenant's windows: may have changed with the inventory
    }

    /// The rollout's machine when it is active. Otherwise `conflict` when it exists but ended (the request
    /// comes too late: another one ended it, or it finished; audited as refused), `not_found` when there is
    /// no such rollout.
    @discardableResult
    func active(_ id: Int64, _ verb: String, audit record: AuditRecord) async throws -> RolloutStateMachine {
        if let machine = machines[id] { return machine }
        let stored = try await store.rollout(id: id)
        if let machine = machines[id] { return machine }  // rolled back meanwhile: active again
        guard let stored else {
            throw EngineError(.notFound, "no rollout \(id) (itvctl rollout list --all lists every rollout)")
        }
        let phase = stored.rollout.phase.rawValue.replacingOccurrences(of: "_", with: " ")
        let refusal = EngineError(.conflict, "cannot \(verb) rollout \(id): it is \(phase), no longer active")
        var refused = record
        refused.outcome = "error: \(refusal.kind)"
        try await persist([.audit(refused)], actions: [])
        throw refusal
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

    /// `recordAudit` for callers that go on whether or not the record is written (a refusal, a reload): a
    /// failed write is journaled (`store.failed`), never dropped silently.
    public func recordAuditOrLog(_ record: AuditRecord) async {
        do {
            try await recordAudit(record)
        } catch {
            logAuditFailure(record, error)
        }
    }

    func logAuditFailure(_ record: AuditRecord, _ error: any Error) {
        logger.error(
            "audit record not written (\(record.user) \(record.action) \(record.target): \(record.outcome)): \(error)",
            metadata: [
                "event": "\(ITVEvent.storeFailed.rawValue)", "user": "\(record.user)", "uid": "\(record.uid)",
                "action": "\(record.action)",
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
