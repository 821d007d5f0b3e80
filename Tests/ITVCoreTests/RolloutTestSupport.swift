import Testing

@testable import ITVCore

/// Plans, recipes and a driver for the `RolloutStateMachine` tests.
enum RolloutFixture {
    static let here = ITVCore.SourceLocation(file: "rollout-test.yaml", line: 1, column: 1)
    static let target = "2.0"
    static let old = "1.0"
    static let planHash = "plan-hash-1"

    /// One wave of a test plan: its hosts are `prefix1`, `prefix2`, ...
    struct W {
        var name: String
        var hosts: [String]
        var approval: ApprovalKind = .auto
        var approvals = 1
        var bake: Int64 = 0
        var parallel: Int?
    }

    static func wave(
        _ prefix: String, _ count: Int, _ approval: ApprovalKind = .auto, approvals: Int = 1, bake: Int64 = 0,
        parallel: Int? = nil
    ) -> W {
        W(
            name: prefix, hosts: (0..<count).map { "\(prefix)\($0 + 1)" }, approval: approval, approvals: approvals,
            bake: bake, parallel: parallel)
    }

    static func plan(_ waves: [W], hash: String = planHash) -> RolloutPlan {
        RolloutPlan(
            procedure: "firefox-esr", version: target,
            waves: waves.enumerated().map { i, w in
                PlannedWave(
                    index: i,
                    spec: WaveSpec(
                        name: w.name, size: .hosts(w.hosts), approval: w.approval, approvals: w.approvals,
                        bake: TimeSpan(seconds: w.bake), parallel: w.parallel),
                    hosts: w.hosts)
            }, hash: hash)
    }

    static func template(_ source: String) -> CommandTemplate {
        switch CommandTemplate.parse(source) {
        case .success(let t): return t
        case .failure(let e): preconditionFailure("fixture template \(source): \(e)")
        }
    }

    static func recipe(
        idempotent: Bool = false, maxFailures: FailureThreshold = .count(0), onFailure: FailurePolicy = .halt,
        window: String? = nil, rollbackStep: Bool = true, retryUnreached: Int64 = 900,
        reachDeadline: Int64 = 7 * 86_400, maxUnreached: FailureThreshold = .percent(50)
    ) -> RolloutRecipe {
        let steps = Steps(
            detect: StepCommand(all: template("app-version")),
            install: StepCommand(all: template("app-install {{version}}")),
            verify: StepCommand(all: template("app-check {{version}}")),
            rollback: rollbackStep ? StepCommand(all: template("app-install {{previous}}")) : nil,
            idempotent: idempotent)
        let playbook = Playbook(
            id: "firefox-esr", name: "Firefox ESR", vendor: "Mozilla", targets: [Located("all", at: here)],
            feed: nil, steps: steps,
            rollout: RolloutSpec(
                waves: [], maxFailures: maxFailures, onFailure: onFailure, window: window,
                retryUnreached: TimeSpan(seconds: retryUnreached), reachDeadline: TimeSpan(seconds: reachDeadline),
                maxUnreached: maxUnreached),
            origin: here)
        return RolloutRecipe(playbook: playbook)
    }

    static func ok(_ stdout: String = "") -> StepResult { .exited(code: 0, stdout: stdout, stderr: "") }
    static func exit(_ code: Int32, _ stderr: String = "boom") -> StepResult {
        .exited(code: code, stdout: "", stderr: stderr)
    }
    static let notRun = StepResult.notRun(kind: "connect_failed", message: "connection refused")
    static let authFailed = StepResult.notRun(kind: "auth_failed", message: "publickey refused")
    static let lost = StepResult.unknown(kind: "timeout", message: "no answer in 15m")

    static func approval(
        wave: Int, uid: UInt32 = 1000, user: String = "alice", hash: String = planHash, rollout: Int64 = 1
    ) -> ApprovalRecord {
        ApprovalRecord(
            rolloutID: rollout, wave: wave, source: .operator, user: user, uid: uid, comment: "looks good",
            planHash: hash, at: 0)
    }
}

/// Feeds events to a state machine with a counting clock and keeps every action it returned.
struct RolloutDriver {
    var sm: RolloutStateMachine
    var now: EpochMillis = 1_000
    var log: [RolloutAction] = []

    init(
        _ plan: RolloutPlan, _ recipe: RolloutRecipe = RolloutFixture.recipe(), windowOpen: Bool = false,
        wakeLeads: [String: Int64] = [:]
    ) {
        sm = RolloutStateMachine.create(
            id: 1, plan: plan, recipe: recipe, createdBy: "alice", now: 0, wakeLeads: wakeLeads)
        if windowOpen { sm.windowOpen = true }
    }

    var phase: RolloutPhase { sm.rollout.phase }
    var snapshot: RolloutSnapshot { sm.snapshot }

    func run(_ host: String) -> HostRunRecord {
        guard let run = sm.hostRun(host) else { preconditionFailure("no host \(host) in the test plan") }
        return run
    }

    func hostPhase(_ host: String) -> HostRunPhase { run(host).phase }
    func wavePhase(_ index: Int) -> WavePhase { sm.snapshot.waves[index].phase }

    /// Hosts with a step in flight, in plan order.
    var inFlight: [String] { sm.snapshot.hostRuns.filter(\.stepInFlight).map(\.host) }

    /// Applies an event that must be accepted; returns its actions.
    @discardableResult
    mutating func send(_ event: RolloutInput, at location: Testing.SourceLocation = #_sourceLocation)
        -> [RolloutAction]
    {
        now += 1
        switch sm.handle(event, now: now) {
        case .success(let actions):
            log += actions
            return actions
        case .failure(let error):
            Issue.record("\(event) refused: \(error.kind): \(error.message)", sourceLocation: location)
            return []
        }
    }

    /// Applies an event that must be refused; checks that nothing changed and returns the error's kind.
    @discardableResult
    mutating func refuse(_ event: RolloutInput, at location: Testing.SourceLocation = #_sourceLocation) -> String? {
        let before = (sm.snapshot, sm.windowOpen, sm.changedPlanHash)
        now += 1
        switch sm.handle(event, now: now) {
        case .success(let actions):
            Issue.record("\(event) accepted with \(actions), expected a refusal", sourceLocation: location)
            return nil
        case .failure(let error):
            #expect(sm.snapshot == before.0, "snapshot changed by a refused \(event)", sourceLocation: location)
            #expect(sm.windowOpen == before.1 && sm.changedPlanHash == before.2, sourceLocation: location)
            #expect(!error.message.isEmpty, sourceLocation: location)
            return error.kind.rawValue
        }
    }

    @discardableResult
    mutating func finish(
        _ host: String, _ step: HostStep, _ result: StepResult, at location: Testing.SourceLocation = #_sourceLocation
    ) -> [RolloutAction] {
        send(.stepFinished(host: host, step: step, result: result), at: location)
    }

    /// Runs a host from detect (finding `found`) through install and verify, all succeeding.
    mutating func succeed(
        _ host: String, found: String = RolloutFixture.old, at location: Testing.SourceLocation = #_sourceLocation
    ) {
        finish(host, .detect, RolloutFixture.ok(found), at: location)
        finish(host, .install, RolloutFixture.ok(), at: location)
        finish(host, .verify, RolloutFixture.ok(), at: location)
        #expect(hostPhase(host) == .succeeded, "\(host): \(run(host))", sourceLocation: location)
    }

    /// Fails a host at detect (exit status 1).
    mutating func failDetect(_ host: String, at location: Testing.SourceLocation = #_sourceLocation) {
        finish(host, .detect, RolloutFixture.exit(1), at: location)
    }

    mutating func approve(_ wave: Int, uid: UInt32 = 1000, at location: Testing.SourceLocation = #_sourceLocation) {
        send(.approve(RolloutFixture.approval(wave: wave, uid: uid, user: "user\(uid)")), at: location)
    }
}

extension Array where Element == RolloutAction {
    /// The `runStep` actions, as `host:step`.
    var steps: [String] {
        compactMap {
            if case .runStep(let host, let step) = $0 { return "\(host):\(step.rawValue)" }
            return nil
        }
    }

    var notices: [RolloutNotice] {
        compactMap {
            if case .announce(let notice) = $0 { return notice }
            return nil
        }
    }
}

/// ITVCore's SplitMix64 with the rollout tests' own choices (a failing randomized case is replayed from its
/// seed; `chance` here draws `next() % 100`, unlike the version tests' `chance`, so it keeps its own type).
struct RolloutRandom: RandomNumberGenerator {
    private var base: SplitMix64

    init(seed: UInt64) { base = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { base.next() }

    /// 0..<n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }

    /// True with probability `percent`/100.
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}
