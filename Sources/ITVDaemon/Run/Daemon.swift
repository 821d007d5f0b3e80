import Dispatch
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
    /// The feeds' fetcher, shared by the artifact downloads (same rules, same thread).
    let artifactFetcher: CurlFeedFetcher
    let feeds: FeedSide
    let detector: ReleaseDetector
    let clock: any EngineClock
    let notifier = Notifier()
    let heartbeat = Heartbeat()
    let metrics = DaemonMetrics()
    let notify: NotifySide
    let startedAt: EpochMillis
    /// How long a stop waits for steps in flight (below systemd's TimeoutStopSec).
    let stopTimeout: Double
    /// The control socket's server, once running (a reload replaces its authorization).
    var control: ControlServer?
    /// Reads the configuration, inventory and playbooks for a reload (`SetLoader.load`; tests pass their own).
    let loadSet: @Sendable () -> Loaded<LoadedSet>
    /// The files' digest (`SetLoader.filesDigest`), taken before each load.
    let filesDigest: @Sendable () -> String?
    /// Where `loadSet` runs: a thread of its own, so that neither this actor (the status tick and the
    /// watchdog's heartbeat wait for it) nor a thread of Swift's cooperative pool waits for the files.
    private let loadQueue = DispatchQueue(label: "itvd.reload")
    /// A reload is under way; later ones wait in `reloadWaiters` (one at a time, so that an older set is
    /// never applied over a newer one).
    private var reloading = false
    private var reloadWaiters: [CheckedContinuation<Void, Never>] = []

    init(
        set: LoadedSet, configFile: String?, overrides: ConfigOverrides, store: SQLiteRolloutStore, logger: Logger,
        loadSet: (@Sendable () -> Loaded<LoadedSet>)? = nil, filesDigestBeforeLoad: String? = nil
    ) {
        self.configFile = configFile
        self.overrides = overrides
        self.loadSet =
            loadSet ?? { SetLoader.load(configFile: configFile, overrides: overrides, keptDirectoryReads: true) }
        self.filesDigest = { SetLoader.filesDigest(configFile: configFile, overrides: overrides) }
        loadedFilesDigest = filesDigestBeforeLoad
        currentWarnings = set.warnings
        self.logger = logger
        self.store = store
        let clock = SystemEngineClock()
        self.clock = clock
        startedAt = clock.now()
        stopTimeout = Double(ProcessInfo.processInfo.environment["ITVD_STOP_TIMEOUT"] ?? "") ?? 60
        var sshLogger = logger
        sshLogger[metadataKey: "component"] = "ssh"
        var sshConfig = SSHExecutorConfiguration(set.config)
        // The upload rate over all hosts (bytes/s, 0 = unlimited): `artifacts.upload_rate` of itvd.yaml; the
        // environment variable overrides it for tests and the bench.
        sshConfig.uploadRate = set.config.artifacts.uploadRate
        if let rate = ProcessInfo.processInfo.environment["ITVD_UPLOAD_RATE"].flatMap({ Int64($0) }), rate >= 0 {
            sshConfig.uploadRate = rate
        }
        let executor = LibSSH2Executor(configuration: sshConfig, logger: sshLogger)
        engine = RolloutEngine(
            set: set, store: store, executor: executor, clock: clock, logger: logger,
            artifactCache: set.config.state + "/artifacts")
        feeds = FeedSide(logger: logger)
        notify = NotifySide(set: set)
        var ledger = StoreReleaseLedger(store: store)
        if !set.config.notify.isEmpty { ledger.notify = (notify.routing, notify.releaseRecords(set: set)) }
        detector = ReleaseDetector(ledger: ledger, sink: feeds)
        var fetcherConfig = CurlFeedFetcher.Configuration()
        fetcherConfig.caBundlePath = ProcessInfo.processInfo.environment["ITVD_CA_BUNDLE"]
        let fetcher = CurlFeedFetcher(configuration: fetcherConfig)
        watcher = FeedWatcher(fetcher: fetcher, parser: FeedExtractor(), delegate: feeds, clock: clock)
        artifactFetcher = fetcher
    }

    static func feedSpecs(_ set: LoadedSet) -> [String: FeedSpec] {
        Dictionary(uniqueKeysWithValues: set.playbooks.compactMap { p in p.feed.map { (p.id, $0) } })
    }

    func run() async throws {
        // The artifact cache: `<state>/artifacts/sha256/<hex>`; leftovers of an interrupted download are removed.
        let stateDirectory = await engine.set.config.state
        let artifacts = try CurlArtifactSource(
            fetcher: artifactFetcher, directory: (stateDirectory as NSString).appendingPathComponent("artifacts"))
        try await engine.attachArtifacts(artifacts)
        try await engine.start()
        let engine = self.engine
        let service = EngineControlService(
            engine: engine, store: store, hooks: self, clock: clock, startedAt: startedAt, metrics: metrics)
        await engine.setObserver(metrics)
        await engine.setNotify(sinks: notify.routing.sinks, waker: notify.routing.waker)
        let notifyRouting = notify.routing
        let store = self.store
        let clock = self.clock
        await feeds.attachNotify { procedure, error in
            // feed.broken: nothing else is stored when a feed breaks, so the record is its own transaction.
            let now = clock.now()
            let message = NotifyMessage(
                event: .feedBroken, at: now, tenants: NotifySide.tenants(of: procedure, in: await engine.set),
                procedure: procedure, message: "feed of \(procedure) is broken: \(error.message) (\(error.kind))",
                command: "itvctl feed check \(procedure)")
            let records = notifyRouting.records(message, at: now)
            guard !records.isEmpty else { return }
            try? await store.commit(records)
            notifyRouting.wake(records)
        }
        let set = await engine.set
        let server = ControlServer(
            config: ControlServerConfig(set.config, inventory: set.inventory), service: service, logger: logger)
        control = server
        let validators = (try? await StoreReleaseLedger(store: store).savedValidators()) ?? [:]
        await feeds.attach(detector: detector) { release in await engine.releaseDetected(release) }
        await watcher.setFeeds(Self.feedSpecs(set), validators: validators)

        let hup = SignalSource(SIGHUP) { [weak self] in
            Task { _ = await self?.reload(by: .daemon) }
        }
        defer { hup.cancel() }

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: EngineService(engine: engine, stopTimeout: stopTimeout, notifier: notifier)),
            .init(service: server),
            .init(service: FeedService(watcher: watcher)),
            .init(service: StatusService(daemon: self, server: server)),
            .init(service: DirectoryRetryService(daemon: self)),
        ]
        if !notify.routing.sinks.isEmpty {
            services.append(
                .init(service: NotifyService(sender: notify.sender(store: store, clock: clock, logger: logger))))
        }
        if let listen = set.config.metricsListen {
            let metrics = self.metrics
            services.append(
                .init(
                    service: MetricsListener(
                        host: listen.host, port: listen.port, logger: logger,
                        render: { try await service.metricsText(metrics) },
                        onListening: { port in
                            // Tests configure port 0 and read the port the kernel chose from here.
                            if let file = ProcessInfo.processInfo.environment["ITVD_METRICS_PORT_FILE"] {
                                try? Data("\(port)\n".utf8).write(to: URL(fileURLWithPath: file))
                            }
                        })))
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services,
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
        logger.info(
            "itvd \(ITVRelease.version) ready: \(line)", metadata: ["event": "\(ITVEvent.daemonReady.rawValue)"])
    }

    /// One status tick: keeps STATUS= current, proves the engine answers (watchdog).
    func tick() async {
        let line = await engine.statusLine()
        heartbeat.beat()
        if line != lastStatus {
            _ = notifier.status(line)
            lastStatus = line
        }
    }

    var lastStatus = ""

    /// The last reload: when, and its problems (kept until a reload succeeds).
    var lastReloadAt: Int64?
    var lastReloadProblems: [String] = []
    /// What the running set holds that is not fresh (`LoadedSet.warnings`): in `itvctl status` until a load
    /// without it.
    var currentWarnings: [String] = []

    // MARK: - DaemonHooks

    func lastReload() async -> (at: Int64?, problems: [String]) {
        (lastReloadAt, lastReloadProblems + currentWarnings)
    }

    /// The files as they were before the running set was loaded (`SetLoader.filesDigest`).
    var loadedFilesDigest: String?
    /// "The files changed, the directory is not re-read by itself" was journaled (once per set).
    var reportedFilesChanged = false

    /// Keeps the set's fresh directory reads in the state directory (`DirectoryCache`); returns the set without
    /// the reads (the engine does not need them).
    static func keepDirectoryReads(_ set: LoadedSet, logger: Logger) -> LoadedSet {
        var kept = set
        for problem in DirectoryCache(stateDirectory: set.config.state).save(set.directoryReads) {
            logger.warning(
                "cannot keep a directory read: \(problem); a start while the directory is down cannot use it",
                metadata: ["event": "\(ITVEvent.inventoryStale.rawValue)"])
        }
        kept.directoryReads = []
        return kept
    }

    /// Journals what a set that is about to run holds that is not fresh.
    static func journalWarnings(_ set: LoadedSet, logger: Logger) {
        for warning in set.warnings {
            logger.warning("\(warning)", metadata: ["event": "\(ITVEvent.inventoryStale.rawValue)"])
        }
    }

    /// While the running set has a kept directory read instead of a fresh one: reads everything again and
    /// applies it, as a reload by itvd, only when a directory answered (fewer warnings) and only when the
    /// files are as they were before the running set was loaded (an operator who is editing them reloads
    /// when done). Called every few minutes by `DirectoryRetryService`; nothing is journaled or audited while
    /// the directories stay down.
    func retryDirectories() async {
        guard !currentWarnings.isEmpty, !reloading, loadedFilesDigest != nil else { return }
        _ = await reload(by: .daemon, onlyFresher: true)
    }

    /// Reloads the configuration, inventory and playbooks. The files are read and checked on `loadQueue`,
    /// away from this actor: a large set may take a while, and meanwhile the status tick must go on beating
    /// the heartbeat that the watchdog pings on (systemd would otherwise kill itvd in the middle of a reload).
    func reload(by requester: Requester) async -> ReloadResponse {
        // Never nil: only `onlyFresher` loads are dropped.
        await reload(by: requester, onlyFresher: false)
            ?? ReloadResponse(ok: false, procedures: 0, hosts: 0, problems: [], reloadedAt: clock.now())
    }

    /// `onlyFresher`: the files are read only when they are as before the running set was loaded, and the set
    /// is applied only when it has fewer warnings than the running one (a directory answered again); else
    /// nothing changes and nil is returned.
    private func reload(by requester: Requester, onlyFresher: Bool) async -> ReloadResponse? {
        while reloading { await withCheckedContinuation { reloadWaiters.append($0) } }
        reloading = true
        defer {
            reloading = false
            if !reloadWaiters.isEmpty { reloadWaiters.removeFirst().resume() }
        }
        // systemd hears RELOADING=1 when a reload starts, READY=1 when it is done; a look that changes nothing
        // says neither.
        var announced = false
        func announce() {
            _ = notifier.reloading()
            announced = true
        }
        defer {
            if announced {
                _ = notifier.ready(status: "reloaded")
                // STATUS= now says "reloaded": the next tick sends the summary again.
                lastStatus = ""
            }
        }
        if !onlyFresher { announce() }
        let load = loadSet
        let digest = filesDigest
        let expected = onlyFresher ? loadedFilesDigest : nil
        let logger = self.logger
        // The files' digest is taken on the same thread right before they are read (a file changed during the
        // load then differs at the next look), and a look stops there when they changed; the directories'
        // fresh reads are kept on that thread too (written and synced, off this actor).
        let (attempt, digestBefore) = await withCheckedContinuation { continuation in
            loadQueue.async {
                let before = digest()
                if let expected, before != expected {
                    continuation.resume(returning: (Loaded<LoadedSet>?.none, before))
                    return
                }
                var loaded = load()
                if let set = loaded.value { loaded.value = Self.keepDirectoryReads(set, logger: logger) }
                continuation.resume(returning: (loaded, before))
            }
        }
        guard let loaded = attempt else {
            if !reportedFilesChanged {
                reportedFilesChanged = true
                logger.notice(
                    """
                    the playbooks, the inventory or itvd.yaml changed since they were loaded: an unreachable \
                    directory is not re-read by itself; run itvctl reload
                    """,
                    metadata: ["event": "\(ITVEvent.inventoryStale.rawValue)"])
            }
            return nil
        }
        if onlyFresher {
            guard let set = loaded.value, set.warnings.count < currentWarnings.count else { return nil }
            logger.notice(
                "a directory answers again: reloading with its fresh read",
                metadata: ["event": "\(ITVEvent.inventoryStale.rawValue)"])
            announce()
        }
        let now = clock.now()
        lastReloadAt = now
        lastReloadProblems = loaded.value == nil ? loaded.diagnostics.map(\.description) : []
        guard let set = loaded.value else {
            for d in loaded.diagnostics {
                logger.error("reload: \(d)", metadata: ["event": "\(ITVEvent.reloadFailed.rawValue)"])
            }
            await engine.recordAuditOrLog(
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
        currentWarnings = set.warnings
        loadedFilesDigest = digestBefore
        reportedFilesChanged = false
        Self.journalWarnings(set, logger: logger)
        // Who may read and change: in force for the next request, before anything else of the new set.
        control?.updateAuthorization(
            AuthorizationPolicy(set.config, inventory: set.inventory))
        let previous = await engine.set.config
        let restartOnly = Self.restartOnlyChanges(from: previous, to: set.config)
        if !restartOnly.isEmpty {
            let names = restartOnly.joined(separator: ", ")
            logger.warning("reload: \(names) changed in the configuration; this takes effect only when itvd restarts")
        }
        await engine.reload(set)
        await watcher.setFeeds(Self.feedSpecs(set))
        for p in set.playbooks { await detector.reset(p.id) }
        await engine.recordAuditOrLog(
            AuditRecord(
                at: now, user: requester.user, uid: requester.uid, action: "reload", target: "playbooks and inventory",
                outcome: "ok"))
        logger.notice(
            "reloaded: \(set.playbooks.count) playbooks, \(set.inventory.hosts.count) hosts",
            metadata: ["event": "\(ITVEvent.reloadSucceeded.rawValue)"])
        var response = ReloadResponse(
            ok: true, procedures: set.playbooks.count, hosts: set.inventory.hosts.count, problems: [], reloadedAt: now)
        response.warnings = set.warnings.isEmpty ? nil : set.warnings
        return response
    }

    /// Settings of itvd.yaml that only a restart applies (the socket, the store and the SSH client with its
    /// session cap are set up once).
    static func restartOnlyChanges(from old: DaemonConfig, to new: DaemonConfig) -> [String] {
        var changed: [String] = []
        if old.socket != new.socket { changed.append("socket") }
        if old.state != new.state { changed.append("state") }
        if old.ssh != new.ssh { changed.append("ssh") }
        if old.parallel != new.parallel { changed.append("parallel") }
        return changed
    }

    func metricsExtras() async -> MetricsExtras {
        let summary = (try? await store.outboxSummary()) ?? []
        var pending = Dictionary(uniqueKeysWithValues: notify.routing.sinks.map { ($0.name, 0) })
        for s in summary where pending[s.sink] != nil { pending[s.sink] = s.pending }
        return MetricsExtras(feeds: await feeds.health(), outboxPending: pending)
    }

    func notifyList() async throws -> NotifyListResponse {
        let summary = Dictionary(
            (try await store.outboxSummary()).map { ($0.sink, $0) }, uniquingKeysWith: { a, _ in a })
        return NotifyListResponse(
            sinks: notify.routing.sinks.map { sink in
                let s = summary[sink.name] ?? OutboxSinkSummary(sink: sink.name)
                return NotifySinkInfo(
                    name: sink.name, kind: sink.kind.rawValue, target: Self.withoutCredentials(sink.url),
                    events: sink.events.map(\.rawValue).sorted(), tenants: sink.tenants, pending: s.pending,
                    failing: s.failing, delivered: s.delivered, dropped: s.dropped, lastError: s.lastError,
                    lastErrorAt: s.lastErrorAt, lastDeliveredAt: s.lastDeliveredAt)
            })
    }

    static func withoutCredentials(_ url: String) -> String {
        guard var c = URLComponents(string: url), c.user != nil || c.password != nil else { return url }
        c.user = nil
        c.password = nil
        return c.string ?? url
    }

    func notifyTest(_ name: String, by requester: Requester) async -> NotifyTestResponse? {
        let now = clock.now()
        guard let (message, result) = await notify.test(name, by: requester.user, now: now) else { return nil }
        let outcome: String
        let text: String
        switch result {
        case .success:
            (outcome, text) = ("ok", "delivered")
        case .failure(let e):
            (outcome, text) = ("error: delivery", e.message)
        }
        await engine.recordAuditOrLog(
            AuditRecord(
                at: now, user: requester.user, uid: requester.uid, action: "notify.test", target: "sink \(name)",
                outcome: outcome))
        return NotifyTestResponse(sink: name, ok: outcome == "ok", id: message.id, message: text)
    }

    func checkFeeds(_ procedures: [String]) async -> [FeedCheckResult] {
        let set = await engine.set
        let ids = procedures.isEmpty ? set.playbooks.filter { $0.feed != nil }.map(\.id) : procedures
        var before: [String: Date?] = [:]
        for id in ids { before[id] = await feeds.lastPoll(id)?.at }
        await watcher.pollNow(ids)
        let deadline = clock.now() + 40_000
        var results: [FeedCheckResult] = []
        for id in ids {
            guard set.playbooks.first(where: { $0.id == id })?.feed != nil else {
                // Nothing is polled: answer at once rather than wait out the deadline for a poll.
                results.append(
                    FeedCheckResult(procedure: id, ok: false, error: APIError(.invalidRequest, "\(id) has no feed")))
                continue
            }
            var poll = await feeds.lastPoll(id)
            while poll?.at == (before[id] ?? nil), clock.now() < deadline {
                try? await clock.sleep(seconds: 0.05)
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
}

enum DaemonExit: Error { case storeFailed }
