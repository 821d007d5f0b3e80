import Foundation
import ITVControlServer
import ITVCore
import ITVEngine
import ITVFeeds
import ITVPlaybookLoader
import ITVProtocol
import ITVSSH
import ITVStore
import ITVSystemd
import Logging
import ServiceLifecycle

/// The running daemon: the engine, the control server, the feed watcher and systemd notification, in one
/// service group with graceful shutdown on SIGTERM and reload on SIGHUP.
actor Daemon: DaemonHooks {
    let configFile: String?
    let overrides: ConfigOverrides
    let logger: Logger
    let store: SQLiteRolloutStore
    let engine: RolloutEngine
    let watcher: FeedWatcher
    let feeds: FeedSide
    let detector: ReleaseDetector
    let clock = SystemEngineClock()
    let notifier = Notifier()
    let heartbeat = Heartbeat()
    let startedAt: EpochMillis
    /// How long a stop waits for steps in flight (below systemd's TimeoutStopSec).
    let stopTimeout: Double

    init(set: LoadedSet, configFile: String?, overrides: ConfigOverrides, store: SQLiteRolloutStore, logger: Logger) {
        self.configFile = configFile
        self.overrides = overrides
        self.logger = logger
        self.store = store
        startedAt = SystemEngineClock().now()
        stopTimeout = Double(ProcessInfo.processInfo.environment["ITVD_STOP_TIMEOUT"] ?? "") ?? 60
        var sshLogger = logger
        sshLogger[metadataKey: "component"] = "ssh"
        let executor = LibSSH2Executor(configuration: SSHExecutorConfiguration(set.config), logger: sshLogger)
        engine = RolloutEngine(set: set, store: store, executor: executor, clock: SystemEngineClock(), logger: logger)
        feeds = FeedSide(logger: logger)
        detector = ReleaseDetector(ledger: StoreReleaseLedger(store: store), sink: feeds)
        var fetcherConfig = CurlFeedFetcher.Configuration()
        fetcherConfig.caBundlePath = ProcessInfo.processInfo.environment["ITVD_CA_BUNDLE"]
        watcher = FeedWatcher(
            fetcher: CurlFeedFetcher(configuration: fetcherConfig), parser: FeedExtractor(), delegate: feeds)
    }

    static func feedSpecs(_ set: LoadedSet) -> [String: FeedSpec] {
        Dictionary(uniqueKeysWithValues: set.playbooks.compactMap { p in p.feed.map { (p.id, $0) } })
    }

    func run() async throws {
        try await engine.start()
        let engine = self.engine
        let service = EngineControlService(
            engine: engine, store: store, hooks: self, clock: clock, startedAt: startedAt)
        let set = await engine.set
        let server = ControlServer(config: ControlServerConfig(set.config), service: service, logger: logger)
        let validators = (try? await StoreReleaseLedger(store: store).savedValidators()) ?? [:]
        await feeds.attach(detector: detector) { [weak self] release in await self?.autoPlan(release) }
        await watcher.setFeeds(Self.feedSpecs(set), validators: validators)

        let hup = SignalSource(SIGHUP) { [weak self] in
            Task { _ = await self?.reload(by: .daemon) }
        }
        defer { hup.cancel() }

        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: EngineService(engine: engine, stopTimeout: stopTimeout, notifier: notifier)),
                    .init(service: server),
                    .init(service: FeedService(watcher: watcher)),
                    .init(service: StatusService(daemon: self, server: server)),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch is CancellationError {
        }
        await store.close()
        if let failure = await engine.storeFailure {
            logger.critical("itvd stopped because the state store failed: \(failure)")
            throw DaemonExit.storeFailed
        }
    }

    /// READY=1 once the engine runs and the socket listens, then STATUS= and the watchdog.
    func announceReady(server: ControlServer) async throws {
        try await server.waitUntilListening()
        let line = await engine.statusLine()
        heartbeat.beat()
        _ = notifier.ready(status: line)
        lastStatus = line
        logger.info("itvd \(ITVBuild.version) ready: \(line)", metadata: ["event": "\(ITVEvent.daemonReady.rawValue)"])
    }

    /// One status tick: keeps STATUS= current, proves the engine answers (watchdog), plans due auto_plan
    /// rollouts.
    func tick() async {
        let line = await engine.statusLine()
        heartbeat.beat()
        if line != lastStatus {
            _ = notifier.status(line)
            lastStatus = line
        }
        ticks += 1
        if ticks % 30 == 0 { await planDueReleases() }
    }

    var lastStatus = ""
    var ticks = 0
    /// auto_plan: `procedure NUL version` pairs known to have had a rollout.
    var autoPlanned: Set<String> = []
    /// auto_plan: pairs being planned now (between the first check and the engine's answer). A release seen
    /// by the feed and by the tick at the same moment is planned once.
    var autoPlanning: Set<String> = []
    /// Reloads run one at a time, in the order they were asked for (see `reload`).
    var reloadRunning = false
    var reloadWaiters: [CheckedContinuation<Void, Never>] = []

    // MARK: - DaemonHooks

    /// Re-reads playbooks and inventory. One reload at a time: two at once (SIGHUP and `itvctl reload`, or
    /// two operators) would interleave across their awaits, and the feed watcher could end up with the
    /// older set while the engine has the newer one. A reload asked for during another one waits for it,
    /// then reads the files again itself.
    func reload(by requester: Requester) async -> ReloadResponse {
        if reloadRunning {
            await withCheckedContinuation { reloadWaiters.append($0) }  // ownership is handed over on resume
        } else {
            reloadRunning = true
        }
        defer {
            if reloadWaiters.isEmpty {
                reloadRunning = false
            } else {
                reloadWaiters.removeFirst().resume()
            }
        }
        return await reloadNow(by: requester)
    }

    private func reloadNow(by requester: Requester) async -> ReloadResponse {
        _ = notifier.reloading()
        defer {
            _ = notifier.ready(status: "reloaded")
            // STATUS= now says "reloaded": the next tick sends the summary again.
            lastStatus = ""
        }
        let loaded = SetLoader.load(configFile: configFile, overrides: overrides)
        let now = clock.now()
        guard let set = loaded.value else {
            for d in loaded.diagnostics {
                logger.error("reload: \(d)", metadata: ["event": "\(ITVEvent.reloadFailed.rawValue)"])
            }
            try? await engine.recordAudit(
                AuditRecord(
                    at: now, user: requester.user, uid: requester.uid, action: "reload",
                    target: "playbooks and inventory",
                    comment: "\(loaded.diagnostics.count) problem(s); the last good set stays",
                    outcome: "error: invalid"))
            let current = await engine.set
            return ReloadResponse(
                ok: false, procedures: current.playbooks.count, hosts: current.inventory.hosts.count,
                problems: loaded.diagnostics.map(\.description), reloadedAt: now)
        }
        await engine.reload(set)
        await watcher.setFeeds(Self.feedSpecs(set))
        for p in set.playbooks { await detector.reset(p.id) }
        try? await engine.recordAudit(
            AuditRecord(
                at: now, user: requester.user, uid: requester.uid, action: "reload", target: "playbooks and inventory",
                outcome: "ok"))
        logger.notice(
            "reloaded: \(set.playbooks.count) playbooks, \(set.inventory.hosts.count) hosts",
            metadata: ["event": "\(ITVEvent.reloadSucceeded.rawValue)"])
        return ReloadResponse(
            ok: true, procedures: set.playbooks.count, hosts: set.inventory.hosts.count, problems: [], reloadedAt: now)
    }

    func checkFeeds(_ procedures: [String]) async -> [FeedCheckResult] {
        let set = await engine.set
        let ids = procedures.isEmpty ? set.playbooks.filter { $0.feed != nil }.map(\.id) : procedures
        var before: [String: Date?] = [:]
        for id in ids { before[id] = await feeds.lastPoll(id)?.at }
        await watcher.pollNow(ids)
        let deadline = Date().addingTimeInterval(40)
        var results: [FeedCheckResult] = []
        for id in ids {
            guard set.playbooks.first(where: { $0.id == id })?.feed != nil else {
                // Nothing is polled: answer at once rather than wait out the deadline for a poll.
                results.append(
                    FeedCheckResult(procedure: id, ok: false, error: APIError(.invalidRequest, "\(id) has no feed")))
                continue
            }
            var poll = await feeds.lastPoll(id)
            while poll?.at == (before[id] ?? nil), Date() < deadline {
                try? await Task.sleep(for: .milliseconds(50))
                poll = await feeds.lastPoll(id)
            }
            let scheme = set.playbooks.first { $0.id == id }?.feed?.scheme ?? .dotted
            let latest = EngineControlService.latest((try? await store.releases(procedure: id)) ?? [], scheme: scheme)
            if let poll, poll.at != (before[id] ?? nil) {
                results.append(
                    FeedCheckResult(
                        procedure: id, ok: poll.error == nil, latest: latest, newReleases: poll.newReleases,
                        error: poll.error.map { APIError(ErrorKind($0.kind), $0.message) }))
            } else {
                results.append(
                    FeedCheckResult(
                        procedure: id, ok: false, latest: latest,
                        error: APIError(.timeout, "the poll did not finish in 40 s")))
            }
        }
        return results
    }

    // MARK: - auto_plan

    func autoPlan(_ release: ReleaseRecord) async {
        await planIfDue(release)
    }

    /// Plans the newest release of every `auto_plan` procedure once it is older than `min_age`.
    func planDueReleases() async {
        let set = await engine.set
        for p in set.playbooks where p.rollout.autoPlan {
            guard let feed = p.feed, let releases = try? await store.releases(procedure: p.id) else { continue }
            let newest = releases.compactMap { r in (try? feed.scheme.parse(r.version).get()).map { ($0, r) } }
                .max { $0.0 < $1.0 }
            if let (_, record) = newest { await planIfDue(record) }
        }
    }

    func planIfDue(_ release: ReleaseRecord) async {
        let set = await engine.set
        guard let playbook = set.playbooks.first(where: { $0.id == release.procedure }),
            case .now = AutoPlan.decide(playbook, release: release, now: Date())
        else { return }
        // Once per version: never again after a rollout of it existed (even one that was rolled back).
        // Rollouts are never deleted, so a version found planned is remembered and the store is read once
        // per due version, not every 30 s.
        let key = release.procedure + "\u{0}" + release.version
        if autoPlanned.contains(key) || autoPlanning.contains(key) { return }
        // Decided before the first await: a second call for the same release meanwhile returns above.
        autoPlanning.insert(key)
        defer { autoPlanning.remove(key) }
        let active = await engine.activeSnapshots().map(\.rollout).filter { $0.procedure == release.procedure }
        if !active.isEmpty {
            if active.contains(where: { $0.version == release.version }) { autoPlanned.insert(key) }
            return  // another version's rollout is still running: plan after it ends
        }
        let existing = (try? await store.rollouts(includeFinished: true, limit: 10_000)) ?? []
        if existing.contains(where: { $0.procedure == release.procedure && $0.version == release.version }) {
            autoPlanned.insert(key)
            return
        }
        do {
            let s = try await engine.createRollout(
                procedure: release.procedure, version: release.version, by: .daemon, comment: "auto_plan")
            autoPlanned.insert(key)
            logger.notice(
                "auto_plan: rollout \(s.rollout.id) of \(release.procedure) \(release.version) created",
                metadata: ["procedure": "\(release.procedure)", "rollout": "\(s.rollout.id)"])
        } catch let refusal as EngineError where refusal.kind == "conflict" {
            // An operator started a rollout of the procedure at the same moment: planned after it ends.
            logger.info(
                "auto_plan: \(release.procedure) \(release.version) not planned now: \(refusal.message)",
                metadata: ["procedure": "\(release.procedure)"])
        } catch {
            logger.error(
                "auto_plan: cannot plan \(release.procedure) \(release.version): \(error)",
                metadata: ["procedure": "\(release.procedure)"])
        }
    }
}

enum DaemonExit: Error { case storeFailed }
