import Foundation
import ITVCore
import ITVEngine

/// An in-memory store; `crash()` makes every later commit fail, as if the process died.
actor MemoryStore: RolloutStore {
    var rollouts: [Int64: RolloutRecord] = [:]
    var waves: [Int64: [Int: WaveRecord]] = [:]
    var approvals: [ApprovalRecord] = []
    var hostRuns: [Int64: [String: HostRunRecord]] = [:]
    var hostOrder: [Int64: [String]] = [:]
    var auditLog: [AuditRecord] = []
    var outboxRecords: [OutboxRecord] = []
    /// Every transaction's changes, in order.
    var commitLog: [[StoreChange]] = []
    var hostVersionTable: [String: HostVersionRecord] = [:]
    var windowTable: [String: WindowRecord] = [:]
    var releaseTable: [String: ReleaseRecord] = [:]
    /// While set, `hasRollout` fails with it (a store that cannot be read).
    var hasRolloutFailure: StoreError?
    func failHasRollout(_ error: StoreError?) { hasRolloutFailure = error }
    var rebootTable: [String: PendingReboot] = [:]
    var lastID: Int64 = 0
    var commits = 0
    var generation = 0
    /// Crash injection: the commit with this number (counted from now) kills the current process
    /// before it is applied, like a kill -9 just before the transaction reached the disk.
    var crashAtCommit: Int?
    /// While set, every commit waits (before it is applied) until `releaseCommit()` lets it through.
    var holdingCommits = false
    var heldCommits: [CheckedContinuation<Void, Never>] = []
    /// How long each call takes (a real store waits for the disk): widens the gaps in which concurrent
    /// requests interleave. Zero: calls return at once.
    var latency: Duration = .zero

    func setLatency(_ value: Duration) { latency = value }
    func wait() async { if latency > .zero { try? await Task.sleep(for: latency) } }

    func holdCommits(_ on: Bool) {
        holdingCommits = on
        if !on {
            heldCommits.forEach { $0.resume() }
            heldCommits = []
        }
    }
    /// Lets the oldest held commit through; later commits are still held.
    func releaseCommit() { if !heldCommits.isEmpty { heldCommits.removeFirst().resume() } }
    var heldCommitCount: Int { heldCommits.count }

    func crash(atCommit n: Int?) { crashAtCommit = n.map { commits + $0 } }

    /// A handle that belongs to one "process": after `crash()`, its commits fail.
    nonisolated func handle() async -> StoreHandle { StoreHandle(store: self, generation: await generation) }

    func crash() { generation += 1 }

    func commit(_ changes: [StoreChange], generation g: Int) async throws {
        await wait()
        if holdingCommits { await withCheckedContinuation { heldCommits.append($0) } }
        guard g == generation else { throw StoreError(kind: .io, message: "process is gone") }
        if let n = crashAtCommit, commits + 1 >= n {
            crashAtCommit = nil
            generation += 1
            throw StoreError(kind: .io, message: "killed")
        }
        try commit(changes)
    }

    func alive(_ g: Int) -> Bool { g == generation }

    func commit(_ changes: [StoreChange]) throws {
        try checkOneActiveRolloutPerProcedure(changes)
        commits += 1
        commitLog.append(changes)
        for change in changes {
            switch change {
            case .rollout(let r): rollouts[r.id] = r
            case .wave(let w): waves[w.rolloutID, default: [:]][w.index] = w
            case .approval(let a): approvals.append(a)
            case .hostRun(let h):
                if hostRuns[h.rolloutID]?[h.host] == nil { hostOrder[h.rolloutID, default: []].append(h.host) }
                hostRuns[h.rolloutID, default: [:]][h.host] = h
            case .audit(var a):
                a.id = Int64(auditLog.count + 1)
                auditLog.append(a)
            case .release(let r): releaseTable[r.procedure + "\u{0}" + r.version] = r
            case .hostVersion(let v): hostVersionTable["\(v.host)/\(v.procedure)"] = v
            case .window(let w): windowTable[w.name] = w
            case .feedState: break
            case .outbox(let o): outboxRecords.append(o)
            case .outboxAttempt: break
            case .artifact: break
            case .rebootPending(let r): rebootTable["\(r.host)/\(r.procedure)"] = r
            case .rebootDone(let host): rebootTable = rebootTable.filter { $0.value.host != host }
            }
        }
    }

    /// The SQLite store's constraint (a partial unique index): at most one active rollout per procedure.
    /// Checked before anything is applied: a refused commit changes nothing, as a rolled-back transaction.
    func checkOneActiveRolloutPerProcedure(_ changes: [StoreChange]) throws {
        var active: [String: Int64] = [:]
        for r in rollouts.values where !r.phase.isFinal { active[r.procedure] = r.id }
        for case .rollout(let r) in changes {
            if r.phase.isFinal {
                if active[r.procedure] == r.id { active[r.procedure] = nil }
            } else if let other = active[r.procedure], other != r.id {
                throw StoreError(
                    kind: .conflict,
                    message: "rollout \(r.id) of \(r.procedure) cannot be active: rollout \(other) of \(r.procedure) "
                        + "is active, and at most one rollout of a procedure may be")
            } else {
                active[r.procedure] = r.id
            }
        }
    }

    /// Stores what an earlier daemon left (rollouts, releases) before an engine starts on the store.
    func preload(_ changes: [StoreChange]) throws {
        try commit(changes)
        lastID = max(lastID, rollouts.keys.max() ?? 0)
    }

    func allocateRolloutID() async -> Int64 {
        await wait()
        lastID += 1
        return lastID
    }

    func snapshot(_ id: Int64) -> RolloutSnapshot? {
        guard let r = rollouts[id] else { return nil }
        return RolloutSnapshot(
            rollout: r, waves: (waves[id] ?? [:]).values.sorted { $0.index < $1.index },
            approvals: approvals.filter { $0.rolloutID == id },
            hostRuns: (hostOrder[id] ?? []).compactMap { hostRuns[id]?[$0] })
    }

    func activeRollouts() -> [RolloutSnapshot] {
        rollouts.keys.sorted().filter { !(rollouts[$0]?.phase.isFinal ?? true) }.compactMap { snapshot($0) }
    }

    func rollout(id: Int64) async -> RolloutSnapshot? {
        await wait()
        return snapshot(id)
    }

    func rollouts(includeFinished: Bool, limit: Int) -> [RolloutRecord] {
        Array(rollouts.values.filter { includeFinished || !$0.phase.isFinal }.sorted { $0.id > $1.id }.prefix(limit))
    }

    func hasRollout(procedure: String, version: String) throws -> Bool {
        if let hasRolloutFailure { throw hasRolloutFailure }
        return rollouts.values.contains { $0.procedure == procedure && $0.version == version }
    }

    func audit(since: EpochMillis?, limit: Int) -> [AuditRecord] {
        Array(auditLog.filter { $0.at >= (since ?? 0) }.prefix(limit))
    }

    func auditPage(since: EpochMillis?, before: Int64?, limit: Int, maxBytes: Int) -> AuditPage {
        let matching = auditLog.filter { $0.at >= (since ?? 0) && ($0.id ?? 0) < (before ?? Int64.max) }
        var page: [AuditRecord] = []
        var bytes = 0
        for record in matching.reversed() {
            let weight = AuditPage.weight(record)
            if page.count >= limit || (!page.isEmpty && bytes + weight > maxBytes) {
                return AuditPage(records: page.reversed(), more: true)
            }
            page.append(record)
            bytes += weight
        }
        return AuditPage(records: page.reversed(), more: false)
    }

    func releases(procedure: String?) -> [ReleaseRecord] {
        releaseTable.values.filter { procedure == nil || $0.procedure == procedure }
    }
    func hostVersions() -> [HostVersionRecord] { Array(hostVersionTable.values) }
    func windows() -> [WindowRecord] { Array(windowTable.values) }
    func feedStates() -> [String: String] { [:] }
}

/// One process's view of the memory store.
struct StoreHandle: RolloutStore {
    let store: MemoryStore
    let generation: Int

    func commit(_ changes: [StoreChange]) async throws { try await store.commit(changes, generation: generation) }
    func allocateRolloutID() async throws -> Int64 { await store.allocateRolloutID() }
    func activeRollouts() async throws -> [RolloutSnapshot] { await store.activeRollouts() }
    func rollout(id: Int64) async throws -> RolloutSnapshot? { await store.rollout(id: id) }
    func rollouts(includeFinished: Bool, limit: Int) async throws -> [RolloutRecord] {
        await store.rollouts(includeFinished: includeFinished, limit: limit)
    }
    func audit(since: EpochMillis?, limit: Int) async throws -> [AuditRecord] {
        await store.audit(since: since, limit: limit)
    }
    func auditPage(since: EpochMillis?, before: Int64?, limit: Int, maxBytes: Int) async throws -> AuditPage {
        await store.auditPage(since: since, before: before, limit: limit, maxBytes: maxBytes)
    }
    func hasRollout(procedure: String, version: String) async throws -> Bool {
        try await store.hasRollout(procedure: procedure, version: version)
    }
    func releases(procedure: String?) async throws -> [ReleaseRecord] { await store.releases(procedure: procedure) }
    func hostVersions() async throws -> [HostVersionRecord] { await store.hostVersions() }
    func windows() async throws -> [WindowRecord] { await store.windows() }
    func feedStates() async throws -> [String: String] { [:] }
}

/// A fleet of fake hosts that understand the commands of `FakeFleet.playbook`: `detect`, `install V`,
/// `verify V`, `rollback P`. Each host keeps a ledger of the commands it ran.
actor FakeFleet {
    struct HostState {
        var version: String?
        var ledger: [String] = []
        var failInstall = false
        var unreachable = false
        /// The next install is applied but its result is lost (connection dropped).
        var loseNextInstallResult = false
        /// Files put there by `stage`: path -> sha256.
        var files: [String: String] = [:]
        /// This many next stages are dropped half way (nothing under the final name).
        var interruptStages = 0
        /// Stages that sent bytes.
        var uploads = 0
        /// Install applies the version, then exits 100 ("restart required").
        var needsRestart = false
        /// Restarts done by the `reboot` command.
        var reboots = 0
        /// Connections refused before the restarting host is back.
        var downConnects = 0
    }

    var hosts: [String: HostState] = [:]
    /// Every command run anywhere, in order.
    var log: [(host: String, command: String)] = []
    var running = 0
    var maxRunning = 0
    /// While set, every command starting with `holdCommand` (install unless told) waits here until
    /// `releaseInstalls()`.
    var holdInstalls = false
    var holdCommand = "install"
    var heldInstalls: [CheckedContinuation<Void, Never>] = []

    func hold(_ on: Bool, command: String = "install") {
        holdInstalls = on
        holdCommand = command
    }
    var heldCount: Int { heldInstalls.count }
    func releaseInstalls() {
        holdInstalls = false
        heldInstalls.forEach { $0.resume() }
        heldInstalls = []
    }

    init(hosts: [String: String?]) {
        for (name, version) in hosts { self.hosts[name] = HostState(version: version) }
    }

    func set(_ host: String, _ change: (inout HostState) -> Void) { change(&hosts[host, default: HostState()]) }
    func state(_ host: String) -> HostState? { hosts[host] }

    func isReachable(_ host: String) -> Bool {
        if let down = hosts[host]?.downConnects, down > 0 {
            hosts[host]?.downConnects = down - 1
            return false
        }
        return !(hosts[host]?.unreachable ?? true)
    }

    func stage(_ host: String, _ request: StageRequest) async -> StageOutcome {
        log.append((host, "stage \(request.placement.path)"))
        hosts[host]?.ledger.append("stage \(request.placement.path)")
        if holdInstalls, holdCommand == "stage" { await withCheckedContinuation { heldInstalls.append($0) } }
        if let n = hosts[host]?.interruptStages, n > 0 {
            hosts[host]?.interruptStages = n - 1
            return .interrupted(.noExitStatus("connection dropped during the upload"))
        }
        if hosts[host]?.files[request.placement.path] == request.sha256 {
            return .staged(uploadedBytes: 0, duration: .zero)
        }
        hosts[host]?.uploads += 1
        hosts[host]?.files[request.placement.path] = request.sha256
        return .staged(uploadedBytes: request.size, duration: .zero)
    }

    func run(_ host: String, _ command: String) async -> CommandOutcome {
        running += 1
        maxRunning = max(maxRunning, running)
        defer { running -= 1 }
        await Task.yield()
        log.append((host, command))
        hosts[host]?.ledger.append(command)
        let words = command.split(separator: " ", maxSplits: 1).map(String.init)
        let arg = words.count > 1 ? words[1].trimmingCharacters(in: CharacterSet(charactersIn: "'")) : ""
        if holdInstalls, words.first == holdCommand { await withCheckedContinuation { heldInstalls.append($0) } }
        func ok(_ out: String = "") -> CommandOutcome {
            .ok(exit: 0, stdout: CapturedOutput(bytes: Array(out.utf8)), stderr: CapturedOutput(), duration: .zero)
        }
        func fail(_ code: Int32, _ err: String) -> CommandOutcome {
            .ok(exit: code, stdout: CapturedOutput(), stderr: CapturedOutput(bytes: Array(err.utf8)), duration: .zero)
        }
        switch words.first {
        case "detect":
            return ok((hosts[host]?.version ?? "") + "\n")
        case "install":
            if hosts[host]?.failInstall == true { return fail(1, "E: package not found") }
            hosts[host]?.version = arg
            if hosts[host]?.loseNextInstallResult == true {
                hosts[host]?.loseNextInstallResult = false
                return .timeout("connection dropped")
            }
            if hosts[host]?.needsRestart == true { return fail(100, "restart required") }
            return ok()
        case "reboot":
            hosts[host]?.reboots += 1
            hosts[host]?.downConnects = 2
            return .noExitStatus("connection lost: the host restarts")
        case "verify":
            return hosts[host]?.version == arg ? ok() : fail(1, "wrong version")
        case "rollback":
            hosts[host]?.version = arg.isEmpty ? nil : arg
            return ok()
        default:
            return fail(127, "unknown command")
        }
    }
}

struct FakeExecutor: RemoteExecutor {
    let fleet: FakeFleet
    /// When set, a dead process sends nothing: its sessions fail as a killed daemon's would.
    var process: (store: MemoryStore, generation: Int)? = nil

    func connect(to host: RemoteHost) async -> Result<any RemoteSession, RemoteConnectError> {
        guard await fleet.isReachable(host.name) else {
            return .failure(RemoteConnectError(.connectFailed("connection refused")))
        }
        return .success(FakeSession(host: host.name, fleet: fleet, process: process))
    }
}

struct FakeSession: RemoteSession {
    let host: String
    let fleet: FakeFleet
    var process: (store: MemoryStore, generation: Int)? = nil

    func run(_ command: String, timeout: Duration) async -> CommandOutcome {
        if let process, !(await process.store.alive(process.generation)) { return .connectFailed("daemon is dead") }
        return await fleet.run(host, command)
    }
    func stage(_ request: StageRequest, timeout: Duration) async -> StageOutcome {
        if let process, !(await process.store.alive(process.generation)) {
            return .interrupted(.connectFailed("daemon is dead"))
        }
        return await fleet.stage(host, request)
    }
    func close() async {}
}

/// Wall time advances one millisecond per reading and by what is slept. Sleeps up to an hour return at once
/// (bakes elapse immediately); longer ones (a window's end) last until cancelled.
final class InstantClock: EngineClock, @unchecked Sendable {
    private let lock = NSLock()
    private var ms: EpochMillis = 1_700_000_000_000

    func now() -> EpochMillis {
        lock.lock()
        defer { lock.unlock() }
        ms += 1
        return ms
    }

    func sleep(seconds: Double) async throws {
        try Task.checkCancellation()
        if seconds > 3_600 { try await Task.sleep(for: .seconds(1_000_000)) }
        // The time slept passes (retry timers of deferred hosts wait for wall-clock times).
        advance(seconds: seconds)
        await Task.yield()
    }

    private func advance(seconds: Double) {
        lock.lock()
        defer { lock.unlock() }
        ms += EpochMillis(max(0, seconds) * 1000)
    }
}
