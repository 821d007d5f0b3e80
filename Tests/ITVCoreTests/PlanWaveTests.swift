import Testing

@testable import ITVCore

/// Inventories and playbooks for the planning tests.
enum PlanFixture {
    static let here = SourceLocation(file: "test.yaml", line: 1, column: 1)

    /// Hosts h01, h02, ... in that order, all in group `all`, plus the groups `extraGroups` gives them.
    static func inventory(_ count: Int, extraGroups: (Int) -> [String] = { _ in [] }) -> Inventory {
        let hosts = (1...max(count, 1)).prefix(count).map { i in
            Host(
                name: name(i), address: "10.0.0.\(i)", tenant: "t", groups: ["all"] + extraGroups(i), location: here)
        }
        return Inventory(tenants: ["t": Tenant(id: "t", name: "T")], hosts: hosts)
    }

    static func name(_ i: Int) -> String { i < 10 ? "h0\(i)" : "h\(i)" }

    static func template(_ source: String) -> CommandTemplate {
        switch CommandTemplate.parse(source) {
        case .success(let t): return t
        case .failure(let e): preconditionFailure("fixture template \(source): \(e)")
        }
    }

    static func playbook(_ waves: [WaveSpec], targets: [String] = ["all"]) -> Playbook {
        Playbook(
            id: "firefox-esr", name: "Firefox ESR", vendor: "Mozilla",
            targets: targets.map { Located($0, at: here) }, feed: nil,
            steps: Steps(
                detect: StepCommand(all: template("dpkg-query -W -f='${Version}' firefox-esr")),
                install: StepCommand(all: template("apt-get install -y firefox-esr={{version}}")),
                verify: StepCommand(all: template("firefox-esr --version | grep -F {{version}}")),
                rollback: nil),
            rollout: RolloutSpec(waves: waves), origin: here)
    }

    static func wave(_ name: String, _ size: WaveSize) -> WaveSpec { WaveSpec(name: name, size: size) }

    static func plan(_ waves: [WaveSpec], hosts: Int, targets: [String] = ["all"]) -> Result<RolloutPlan, PlanError> {
        WavePlanner.plan(playbook: playbook(waves, targets: targets), inventory: inventory(hosts), version: "115.3")
    }

    static func sizes(_ waves: [WaveSpec], hosts: Int) throws -> [Int] {
        try plan(waves, hosts: hosts).get().waves.map(\.hosts.count)
    }

    static func error(_ result: Result<RolloutPlan, PlanError>) -> PlanError? {
        if case .failure(let e) = result { return e }
        return nil
    }
}

private typealias F = PlanFixture

@Test func countWavesTakeHostsInInventoryOrder() throws {
    let plan = try F.plan([F.wave("canary", .count(1)), F.wave("pilot", .count(2)), F.wave("broad", .rest)], hosts: 5)
        .get()
    #expect(plan.waves.map(\.hosts) == [["h01"], ["h02", "h03"], ["h04", "h05"]])
    #expect(plan.waves.map(\.index) == [0, 1, 2])
    #expect(plan.waves.map(\.spec.name) == ["canary", "pilot", "broad"])
    #expect(plan.hostCount == 5)
    #expect(plan.procedure == "firefox-esr")
    #expect(plan.version == "115.3")
    #expect(plan.wave(containing: "h03")?.spec.name == "pilot")
}

@Test func percentagesAreOfAllHostsWithLargestRemainder() throws {
    #expect(try F.sizes([F.wave("pilot", .percent(10)), F.wave("rest", .rest)], hosts: 7) == [1, 6])
    #expect(
        try F.sizes([F.wave("a", .percent(33)), F.wave("b", .percent(33)), F.wave("c", .percent(34))], hosts: 10)
            == [3, 3, 4])
    #expect(try F.sizes([F.wave("tiny", .percent(1)), F.wave("rest", .rest)], hosts: 3) == [1, 2])
    #expect(try F.sizes([F.wave("a", .percent(50)), F.wave("b", .percent(50))], hosts: 1) == [1, 0])
    #expect(try F.sizes([F.wave("a", .percent(50)), F.wave("b", .percent(50))], hosts: 3) == [2, 1])
    #expect(try F.sizes([F.wave("a", .percent(10)), F.wave("rest", .rest)], hosts: 15) == [2, 13])
    #expect(try F.sizes([F.wave("a", .percent(10)), F.wave("rest", .rest)], hosts: 14) == [1, 13])
    #expect(try F.sizes([F.wave("a", .percent(25)), F.wave("rest", .rest)], hosts: 800) == [200, 600])
    #expect(try F.sizes([F.wave("all", .percent(100))], hosts: 9) == [9])
}

@Test func percentagesOfAllHostsNotOfThoseLeft() throws {
    // 50 % of 10 is 5 even after a count wave took 4; the percent wave still gets 5.
    #expect(
        try F.sizes([F.wave("first", .count(4)), F.wave("half", .percent(50)), F.wave("rest", .rest)], hosts: 10)
            == [4, 5, 1])
    // Never more than remain: 60 % of 10 wants 6, 2 remain.
    #expect(try F.sizes([F.wave("first", .count(8)), F.wave("big", .percent(60))], hosts: 10) == [8, 2])
}

@Test func percentWaveGetsAtLeastOneHostWhileHostsRemain() throws {
    // 1 % of 3 rounds to 0 for both; each still gets one host, the rest wave none.
    #expect(
        try F.sizes([F.wave("a", .percent(1)), F.wave("b", .percent(1)), F.wave("r", .rest)], hosts: 3) == [1, 1, 1])
    #expect(
        try F.sizes([F.wave("a", .percent(1)), F.wave("b", .percent(1)), F.wave("c", .percent(1))], hosts: 2)
            == [1, 1, 0])
}

@Test func countLargerThanWhatRemainsTakesWhatRemains() throws {
    let plan = try F.plan([F.wave("a", .count(10)), F.wave("b", .count(3)), F.wave("r", .rest)], hosts: 3).get()
    #expect(plan.waves.map(\.hosts.count) == [3, 0, 0])
    #expect(plan.hostCount == 3)
}

@Test func restTakesEverythingLeftWhereverItIsDeclared() throws {
    let plan = try F.plan([F.wave("broad", .rest), F.wave("canary", .count(1))], hosts: 4).get()
    #expect(plan.waves.map(\.hosts) == [["h02", "h03", "h04"], ["h01"]])
    #expect(try F.sizes([F.wave("only", .rest)], hosts: 6) == [6])
}

@Test func explicitHostsComeFirstInTheOrderWritten() throws {
    let plan = try F.plan(
        [F.wave("pilot", .count(1)), F.wave("canary", .hosts(["h03", "h01"])), F.wave("broad", .rest)], hosts: 5
    ).get()
    #expect(plan.waves.map(\.hosts) == [["h02"], ["h03", "h01"], ["h04", "h05"]])
}

@Test func groupWavesTakeTheirUntakenHostsBeforeCounts() throws {
    let inventory = F.inventory(6) { $0 % 2 == 0 ? ["it"] : [] }  // h02, h04, h06 are in `it`
    let playbook = F.playbook([
        F.wave("first", .count(2)), F.wave("canary", .hosts(["h02"])), F.wave("it", .group("it")), F.wave("r", .rest),
    ])
    let plan = try WavePlanner.plan(playbook: playbook, inventory: inventory, version: "1").get()
    #expect(plan.waves.map(\.hosts) == [["h01", "h03"], ["h02"], ["h04", "h06"], ["h05"]])
}

@Test func onlyTargetedHostsArePlanned() throws {
    let inventory = F.inventory(6) { $0 <= 2 ? ["ws"] : ($0 == 6 ? ["srv"] : []) }
    let playbook = F.playbook([F.wave("r", .rest)], targets: ["ws", "h04"])
    let plan = try WavePlanner.plan(playbook: playbook, inventory: inventory, version: "1").get()
    #expect(plan.waves.map(\.hosts) == [["h01", "h02", "h04"]])
}

@Test func samePlanForSameInput() throws {
    let waves = [F.wave("c", .hosts(["h07"])), F.wave("p", .percent(10)), F.wave("q", .count(3)), F.wave("r", .rest)]
    let first = try F.plan(waves, hosts: 50).get()
    for _ in 0..<5 { #expect(try F.plan(waves, hosts: 50).get() == first) }
}

@Test func explicitHostMustBeARolloutHost() {
    let missing = F.error(F.plan([F.wave("canary", .hosts(["ws-9"])), F.wave("r", .rest)], hosts: 3))
    #expect(
        missing
            == PlanError(kind: .unknownHost, message: "wave canary names host ws-9, which is not in the inventory"))
    let inventory = F.inventory(3) { $0 == 3 ? ["srv"] : ["ws"] }
    let playbook = F.playbook([F.wave("canary", .hosts(["h03"])), F.wave("r", .rest)], targets: ["ws"])
    let untargeted = F.error(WavePlanner.plan(playbook: playbook, inventory: inventory, version: "1"))
    #expect(
        untargeted?.message
            == "wave canary names host h03, which is in the inventory but not selected by the targets of firefox-esr")
    #expect(untargeted?.kind == .unknownHost)
}

@Test func hostNamedByTwoWavesIsAnError() {
    let e = F.error(
        F.plan([F.wave("a", .hosts(["h01", "h02"])), F.wave("b", .hosts(["h02"])), F.wave("r", .rest)], hosts: 3))
    #expect(
        e
            == PlanError(
                kind: .overlappingWaves,
                message: "host h02 is named by both wave a and wave b; a host must be in exactly one wave"))
    let twice = F.error(F.plan([F.wave("a", .hosts(["h01", "h01"])), F.wave("r", .rest)], hosts: 3))
    #expect(twice == PlanError(kind: .overlappingWaves, message: "wave a names host h01 twice"))
}

@Test func groupWaveNeedsRolloutHostsInTheGroup() {
    let e = F.error(F.plan([F.wave("g", .group("nope")), F.wave("r", .rest)], hosts: 3))
    #expect(
        e == PlanError(kind: .unknownGroup, message: "wave g takes group nope, which no host of the inventory is in"))
    let inventory = F.inventory(3) { $0 == 3 ? ["srv"] : ["ws"] }
    let playbook = F.playbook([F.wave("g", .group("srv")), F.wave("r", .rest)], targets: ["ws"])
    #expect(
        F.error(WavePlanner.plan(playbook: playbook, inventory: inventory, version: "1"))?.message
            == "wave g takes group srv, none of whose hosts is selected by the targets of firefox-esr")
}

@Test func hostsLeftWithoutRestWaveAreAnError() {
    let e = F.error(F.plan([F.wave("a", .count(2)), F.wave("b", .percent(10))], hosts: 5))
    #expect(
        e
            == PlanError(
                kind: .uncoveredHosts,
                message: "2 of the 5 hosts of firefox-esr are in no wave: h04, h05; add a wave with size: rest"))
    let many = F.error(F.plan([F.wave("a", .count(1))], hosts: 30))
    #expect(
        many?.message == "29 of the 30 hosts of firefox-esr are in no wave: "
            + (2...21).map(F.name).joined(separator: ", ") + " and 9 more; add a wave with size: rest")
}

@Test func malformedWavesAreErrors() {
    let cases: [([WaveSpec], PlanError)] = [
        ([], PlanError(kind: .noWaves, message: "cannot plan firefox-esr: it has no waves")),
        (
            [F.wave("a", .rest), F.wave("b", .rest)],
            PlanError(kind: .multipleRestWaves, message: "waves a, b all have size rest; at most one wave may")
        ),
        (
            [F.wave("a", .count(0)), F.wave("r", .rest)],
            PlanError(kind: .invalidSize, message: "wave a has size 0; a count is at least 1")
        ),
        (
            [F.wave("a", .percent(0)), F.wave("r", .rest)],
            PlanError(kind: .invalidSize, message: "wave a has size 0%; a percentage is 1% to 100%")
        ),
        (
            [F.wave("a", .percent(101))],
            PlanError(kind: .invalidSize, message: "wave a has size 101%; a percentage is 1% to 100%")
        ),
        (
            [F.wave("a", .percent(60)), F.wave("b", .percent(60))],
            PlanError(
                kind: .invalidSize,
                message: "the percent waves of firefox-esr add up to 120%, more than all hosts (100%)")
        ),
        (
            [F.wave("a", .count(1)), F.wave("a", .rest)],
            PlanError(kind: .duplicateWave, message: "two waves of firefox-esr are named a")
        ),
        (
            [F.wave("a", .hosts([])), F.wave("r", .rest)],
            PlanError(kind: .emptyWave, message: "wave a has an empty hosts list")
        ),
    ]
    for (waves, expected) in cases {
        #expect(F.error(F.plan(waves, hosts: 4)) == expected)
    }
}

@Test func rolloutWithoutHostsIsAnError() {
    let playbook = F.playbook([F.wave("r", .rest)], targets: ["kiosks"])
    #expect(
        F.error(WavePlanner.plan(playbook: playbook, inventory: F.inventory(3), version: "1"))
            == PlanError(
                kind: .noHosts,
                message: "cannot plan firefox-esr: its targets (kiosks) select no host of the inventory"))
}

@Test func inventoryListingAHostTwiceIsAnError() {
    var inventory = F.inventory(2)
    inventory.hosts.append(inventory.hosts[0])
    #expect(
        F.error(WavePlanner.plan(playbook: F.playbook([F.wave("r", .rest)]), inventory: inventory, version: "1"))?.kind
            == .duplicateHost)
}
