import ITVCore
import Logging

/// Runs rollouts: feeds events to each rollout's state machine, persists what changed, then performs the
/// actions (persist, then act). One actor owns all rollout state; host steps, bake timers and window ends
/// run as child tasks of `run()`.
public actor RolloutEngine {
    public internal(set) var set: LoadedSet
    let store: any RolloutStore
    let executor: any RemoteExecutor
    let clock: any EngineClock
    let logger: Logger
    let wakeSender: any WakeSender
    /// The content-addressed cache of verified artifacts (`<state>/artifacts`; files at `sha256/<hex>`), from
    /// which `stage` uploads. Nil: rollouts with an artifact fail their stage (`artifact_missing`).
    let artifactCache: String?

    /// Each active rollout's state machine. It runs ahead of the store: an event changes it at once and
    /// its changes are committed afterwards (the next event builds on it).
    var machines: [Int64: RolloutStateMachine] = [:]
    /// Each active rollout as last committed: what operators are shown. A snapshot that was never durable
    /// is never shown (a kill -9 could take it back), and a rollout is forgotten only once its end is durable.
    var durable: [Int64: RolloutSnapshot] = [:]
    var windows: [String: WindowRecord] = [:]
    var sessions: [SessionKey: any RemoteSession] = [:]
    var hostOwners: [String: Int64] = [:]
    var hostWaiters: [String: [(owner: Int64, continuation: CheckedContinuation<Void, Never>)]] = [:]
    var subscribers: [Int64: [Int: AsyncStream<RolloutSnapshot>.Continuation]] = [:]
    var nextSubscriber = 0
    var stepsInFlight = 0
    /// A stop waiting for the steps in flight to end.
    var stopWaiters: [CheckedContinuation<Void, Never>] = []
    var observer: (any EngineObserver)?
    var notifySinks: [NotifySink] = []
    var outboxWaker: OutboxWaker?
    /// Procedures whose new rollout has passed its check and waits for its id (the user who starts it):
    /// the decision is recorded before the first `await`, so a second start meanwhile is refused.
    var startsUnderWay: [String: String] = [:]
    /// auto_plan: versions planned, being planned, and the timers waiting (`AutoPlan.swift`).
    var autoPlans = AutoPlan.State()
    /// The retry/wake/deadline timer armed per rollout (wall-clock time it fires).
    var timers: [Int64: EpochMillis] = [:]
    /// Artifacts: the source (nil: no cache, `artifact:` playbooks cannot be planned), each release's record
    /// (`procedure NUL version`), attempts under way, failures in a row, and scheduled retries.
    var artifactSource: (any ArtifactSource)?
    var artifactRecords: [String: ArtifactRecord] = [:]
    var artifactAttempts: [String: Task<ArtifactOutcome, any Error>] = [:]
    var artifactFailures: [String: Int] = [:]
    var artifactRetries: [String: Task<Void, Never>] = [:]

    // The single writer: batches are committed in the order they were made, then their actions run.
    var pendingBatches: [Batch] = []
    var flushing = false
    /// Set when the store failed: nothing more is trusted to be persisted, the daemon must stop.
    public private(set) var storeFailure: String?
    public private(set) var stopping = false

    let work: AsyncStream<Work>
    let workContinuation: AsyncStream<Work>.Continuation

    struct SessionKey: Hashable {
        var rollout: Int64
        var host: String
    }

    struct Batch {
        var changes: [StoreChange]
        var actions: [(Int64, RolloutAction)]
        /// The rollout's state once these changes are committed.
        var snapshot: RolloutSnapshot?
        var waiter: CheckedContinuation<Void, any Error>?
    }

    enum Work: Sendable {
        case step(rollout: Int64, host: String, step: HostStep)
        case bake(rollout: Int64, wave: Int, seconds: Int64)
        case retry(rollout: Int64, host: String, seconds: Int64)
        case windowEnd(name: String, until: EpochMillis)
        case timer(rollout: Int64, at: EpochMillis)
        case wake(rollout: Int64, host: String, mac: [UInt8], target: WakeOnLAN)
        case closeSession(any RemoteSession)
        /// auto_plan's timer: plans the target at this wall-clock time (`AutoPlan.at`).
        case autoPlan(AutoPlan.Target, at: EpochMillis)
    }

    public init(
        set: LoadedSet, store: any RolloutStore, executor: any RemoteExecutor, clock: any EngineClock, logger: Logger,
        wakeSender: any WakeSender = UDPWakeSender(), artifactCache: String? = nil
    ) {
        self.wakeSender = wakeSender
        self.artifactCache = artifactCache
        self.set = set
        self.store = store
        self.executor = executor
        self.clock = clock
        self.logger = logger
        (work, workContinuation) = AsyncStream.makeStream(of: Work.self)
    }

    // MARK: - Life cycle

    /// Loads windows and every active rollout from the store and settles what was in flight at the last stop.
    public func start() async throws {
        for record in try await store.windows() { windows[record.name] = record }
        let now = clock.now()
        for (name, record) in windows where record.isOpen(at: now) {
            if let until = record.openUntil { workContinuation.yield(.windowEnd(name: name, until: until)) }
        }
        for snapshot in try await store.activeRollouts() {
            machines[snapshot.rollout.id] = machine(snapshot)
            durable[snapshot.rollout.id] = snapshot
        }
        for id in machines.keys.sorted() {
            if machines[id]?.rollout.phase == .planned { try await apply(id, .start) }
            try await apply(id, .recover)
            if let hash = currentPlanHash(for: id) { try await apply(id, .planChanged(hash: hash)) }
        }
        scheduleAutoPlans()
    }

    /// Performs host steps, timers and session closes until cancelled or stopped. Returns once every child
    /// task ended: after `stop`, waiting timers (a window's end, a bake) are cancelled, or an open window
    /// would hold a graceful shutdown for hours.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for await item in work {
                group.addTask { await self.execute(item) }
            }
            // Stopped: steps in flight are done (or given up) by now; what is left are timers (a window's
            // end, a bake), which would otherwise hold the stop for hours. Recovery reschedules them.
            group.cancelAll()
        }
    }

    /// Graceful stop: no new step is sent; steps already sent finish (their results are recorded); steps
    /// whose intent was recorded but not sent are forgotten. Returns when nothing is in flight or after
    /// `timeout` seconds, whichever is first.
    public func stop(timeout: Double) async {
        stopping = true
        if stepsInFlight > 0 {
            // Woken by the last step in flight as it ends (`stepEnded`), or by the timeout on the engine's clock.
            let timer = Task { [clock] in
                do { try await clock.sleep(seconds: timeout) } catch { return }
                self.wakeStopWaiters()
            }
            await withCheckedContinuation { stopWaiters.append($0) }
            timer.cancel()
        }
        // One at a time, each taken out before it is closed: a session opened while another one closes is
        // closed too, never dropped unclosed.
        while let (key, session) = sessions.first {
            sessions[key] = nil
            await session.close()
        }
        workContinuation.finish()
    }

    /// A step's task ended; the last one wakes a waiting stop.
    func stepEnded() {
        stepsInFlight -= 1
        if stepsInFlight == 0 { wakeStopWaiters() }
    }

    func wakeStopWaiters() {
        let waiters = stopWaiters
        stopWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    // MARK: - Applying events

    /// Feeds one event to a rollout, persists what changed (with `audit`, if any), then performs the actions.
    /// Throws the state machine's refusal unchanged (after auditing the refused attempt).
    @discardableResult
    func apply(_ id: Int64, _ event: RolloutInput, audit: AuditRecord? = nil) async throws -> RolloutSnapshot {
        if let storeFailure { throw EngineError(.unavailable, "the state store failed: \(storeFailure)") }
        guard var machine = machines[id] else {
            throw EngineError(.notFound, "no active rollout \(id)")
        }
        machine.dispatchHeld = stopping
        if machine.hostOS.isEmpty { machine.hostOS = hostOS(of: machine.snapshot) }
        let old = machine.snapshot
        let actions: [RolloutAction]
        switch machine.handle(event, now: clock.now()) {
        case .failure(let error):
            if var audit {
                audit.outcome = "error: \(error.kind)"
                try await persist([.audit(audit)], actions: [])
            }
            throw EngineError(error)
        case .success(let a):
            actions = a
        }
        machines[id] = machine  // before any await: the next event builds on this state
        var changes = machine.snapshot.changes(since: old)
        for case .recordHostVersion(let host, let version) in actions {
            changes.append(
                .hostVersion(
                    HostVersionRecord(
                        host: host, procedure: machine.rollout.procedure, version: version,
                        seenAt: clock.now())))
        }
        for case .recordReboot(let host, let pending) in actions {
            changes.append(
                pending
                    ? .rebootPending(
                        PendingReboot(
                            host: host, procedure: machine.rollout.procedure, rolloutID: id, since: clock.now()))
                    : .rebootDone(host: host))
        }
        if let audit { changes.append(.audit(audit)) }
        changes += notifications(for: event, actions: actions, machine: machine)
        try await persist(changes, actions: actions.map { (id, $0) }, snapshot: machine.snapshot)
        return machine.snapshot  // as committed: later events may have changed the machine meanwhile
    }

    /// Queues changes for the single writer and returns once they are durable. The first caller to find
    /// the writer idle becomes the writer and commits every batch queued meanwhile, in order.
    func persist(_ changes: [StoreChange], actions: [(Int64, RolloutAction)], snapshot: RolloutSnapshot? = nil)
        async throws
    {
        if flushing {
            try await withCheckedThrowingContinuation { continuation in
                pendingBatches.append(
                    Batch(changes: changes, actions: actions, snapshot: snapshot, waiter: continuation))
            }
            return
        }
        pendingBatches.append(Batch(changes: changes, actions: actions, snapshot: snapshot, waiter: nil))
        flushing = true
        defer { flushing = false }
        var ownError: (any Error)?
        while !pendingBatches.isEmpty {
            let batches = pendingBatches
            pendingBatches = []
            do {
                try await store.commit(batches.flatMap(\.changes))
            } catch let refusal as StoreError where refusal.kind == .conflict {
                // The store's constraint refused a change (its second line behind the engine's own checks):
                // the batches go one by one, in order, so that only the refused ones fail.
                if let error = await commitSeparately(batches) { ownError = error }
                continue
            } catch {
                storeFailure = "\(error)"
                logger.critical(
                    "cannot persist rollout state, stopping all work: \(error)", metadata: ["event": "store.failed"])
                for batch in batches {
                    if let waiter = batch.waiter { waiter.resume(throwing: error) } else { ownError = error }
                }
                continue
            }
            for batch in batches { wakeSenders(batch.changes) }
            for batch in batches {
                for (id, action) in batch.actions { perform(action, rollout: id) }
                batch.waiter?.resume()
            }
            publish(batches)
        }
        if let ownError { throw ownError }
    }

    /// Commits batches one transaction each, in order, after the store refused their joint commit. A refused
    /// batch's caller gets `conflict`; its rollout's machine goes back to the committed state, and later
    /// batches of that rollout (made from the refused state) are refused with it. Returns the error of the
    /// writer's own batch, if any.
    func commitSeparately(_ batches: [Batch]) async -> (any Error)? {
        var ownError: (any Error)?
        var refusedRollouts: [Int64: EngineError] = [:]
        for (index, batch) in batches.enumerated() {
            let id = batch.snapshot?.rollout.id
            var refusal = id.flatMap { refusedRollouts[$0] }
            if refusal == nil {
                do {
                    try await store.commit(batch.changes)
                } catch let error as StoreError where error.kind == .conflict {
                    refusal = EngineError(.conflict, error.message)
                } catch {
                    storeFailure = "\(error)"
                    logger.critical(
                        "cannot persist rollout state, stopping all work: \(error)", metadata: ["event": "store.failed"]
                    )
                    for rest in batches[index...] {
                        if let waiter = rest.waiter { waiter.resume(throwing: error) } else { ownError = error }
                    }
                    return ownError
                }
            }
            if let refusal {
                if let id {
                    refusedRollouts[id] = refusal
                    restoreCommitted(id)
                }
                logger.error("the state store refused a change: \(refusal.message)")
                if let waiter = batch.waiter { waiter.resume(throwing: refusal) } else { ownError = refusal }
                continue
            }
            for (id, action) in batch.actions { perform(action, rollout: id) }
            batch.waiter?.resume()
            publish([batch])
        }
        return ownError
    }

    /// Puts a rollout's machine back to its committed state (forgets it when nothing of it is committed).
    func restoreCommitted(_ id: Int64) {
        guard let committed = durable[id] else {
            machines[id] = nil
            return
        }
        machines[id] = machine(committed)
    }

    /// Performs one action of a committed batch. Never blocks: work goes to `run()`'s task group.
    func perform(_ action: RolloutAction, rollout id: Int64) {
        switch action {
        case .runStep(let host, let step):
            if stopping {
                Task { try? await self.apply(id, .stepNotSent(host: host, step: step)) }
            } else {
                stepsInFlight += 1
                workContinuation.yield(.step(rollout: id, host: host, step: step))
            }
        case .releaseHost(let host):
            if let session = sessions.removeValue(forKey: SessionKey(rollout: id, host: host)) {
                workContinuation.yield(.closeSession(session))
            }
            releaseHost(host, owner: id)
        case .scheduleBake(let wave, let seconds):
            workContinuation.yield(.bake(rollout: id, wave: wave, seconds: seconds))
        case .scheduleRetry(let host, let seconds):
            workContinuation.yield(.retry(rollout: id, host: host, seconds: seconds))
        case .recordHostVersion, .recordReboot:
            break  // persisted with the batch
        case .announce(let notice):
            announce(notice, rollout: id)
            observe(notice)
        case .scheduleTimer(let at):
            // One timer per rollout: an earlier one still armed asks for the next when it fires.
            if let armed = timers[id], armed <= at, armed > clock.now() { return }
            timers[id] = at
            workContinuation.yield(.timer(rollout: id, at: at))
        case .wake(let host):
            sendWake(host, rollout: id)
        }
    }

    /// Records the committed snapshots, sends them to `rollout watch` subscribers, and forgets rollouts
    /// whose end is durable and whose machine has nothing left in flight.
    func publish(_ batches: [Batch]) {
        var touched = Set<Int64>()
        for batch in batches {
            guard let snapshot = batch.snapshot else { continue }
            let id = snapshot.rollout.id
            guard machines[id] != nil else { continue }
            durable[id] = snapshot
            touched.insert(id)
            for continuation in (subscribers[id] ?? [:]).values { continuation.yield(snapshot) }
        }
        for id in touched {
            guard let machine = machines[id], let committed = durable[id] else { continue }
            func settled(_ s: RolloutSnapshot) -> Bool {
                s.rollout.phase.isFinal && !s.hostRuns.contains(where: { $0.stepInFlight })
            }
            if settled(committed), settled(machine.snapshot) {
                machines[id] = nil
                durable[id] = nil
                for continuation in (subscribers[id] ?? [:]).values { continuation.finish() }
                subscribers[id] = nil
                autoPlanAfterEnd(of: machine.rollout.procedure)
            }
        }
    }
}
