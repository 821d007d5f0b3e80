import Testing

@testable import ITVCore

/// A random inventory (hosts in random groups, some not targeted) and random valid waves.
private func randomCase(seed: UInt64) -> (Playbook, Inventory, withRest: Bool) {
    var rng = SplitMix64(seed: seed)
    let groupNames = ["a", "b", "c", "d"]
    let hostCount = Int.random(in: 1...80, using: &rng)
    let hosts = (0..<hostCount).map { i in
        Host(
            name: "host-\(Int.random(in: 0...999_999, using: &rng))-\(i)", address: "10.0.\(i / 250).\(i % 250)",
            tenant: "t", groups: groupNames.filter { _ in Bool.random(using: &rng) }, location: PlanFixture.here)
    }
    let inventory = Inventory(hosts: hosts)
    // Targets: some groups and maybe a host or two; at least one host must be selected.
    var targets = groupNames.filter { _ in Int.random(in: 0..<3, using: &rng) > 0 }
    targets.append(hosts[Int.random(in: 0..<hostCount, using: &rng)].name)
    let rollout = inventory.hosts(forTargets: targets)

    var waves: [WaveSpec] = []
    var named: Set<String> = []
    var percentLeft = 100
    for w in 0..<Int.random(in: 0...7, using: &rng) {
        let size: WaveSize
        switch Int.random(in: 0..<4, using: &rng) {
        case 0:
            size = .count(Int.random(in: 1...20, using: &rng))
        case 1 where percentLeft > 0:
            let p = Int.random(in: 1...min(percentLeft, 60), using: &rng)
            percentLeft -= p
            size = .percent(p)
        case 2:
            let free = rollout.map(\.name).filter { !named.contains($0) }.shuffled(using: &rng)
            guard !free.isEmpty else { continue }
            let pick = Array(free.prefix(Int.random(in: 1...min(free.count, 5), using: &rng)))
            named.formUnion(pick)
            size = .hosts(pick)
        default:
            let usable = groupNames.filter { g in rollout.contains { $0.groups.contains(g) } }
            guard let group = usable.randomElement(using: &rng) else { continue }
            size = .group(group)
        }
        waves.append(WaveSpec(name: "w\(w)", size: size))
    }
    let withRest = waves.isEmpty || Int.random(in: 0..<10, using: &rng) < 7
    if withRest { waves.insert(WaveSpec(name: "rest", size: .rest), at: Int.random(in: 0...waves.count, using: &rng)) }
    let playbook = PlanFixture.playbook(waves, targets: targets)
    return (playbook, inventory, withRest)
}

@Test func everyHostLandsInExactlyOneWaveOverRandomCases() throws {
    var planned = 0
    var uncovered = 0
    for seed in UInt64(1)...3_000 {
        let (playbook, inventory, withRest) = randomCase(seed: seed)
        let rollout = inventory.hosts(forTargets: playbook.targets.map(\.value)).map(\.name)
        switch WavePlanner.assign(playbook: playbook, inventory: inventory) {
        case .success(let plan):
            planned += 1
            let all = plan.waves.flatMap(\.hosts)
            #expect(all.count == rollout.count, "seed \(seed): \(all.count) assignments for \(rollout.count) hosts")
            #expect(Set(all) == Set(rollout) && Set(all).count == all.count, "seed \(seed): not a partition")
            #expect(plan.waves.map(\.spec) == playbook.rollout.waves, "seed \(seed)")
            for wave in plan.waves {
                switch wave.spec.size {
                case .hosts(let names): #expect(wave.hosts == names, "seed \(seed)")
                case .count(let n): #expect(wave.hosts.count <= n, "seed \(seed)")
                case .percent(let p):
                    let ceiling = max(1, (p * rollout.count + 99) / 100)
                    #expect(wave.hosts.count <= ceiling, "seed \(seed): \(p)% of \(rollout.count)")
                case .group(let g):
                    #expect(wave.hosts.allSatisfy { inventory.host(named: $0)?.groups.contains(g) == true })
                case .rest: break
                }
            }
            // The public API (which also hashes) on every 20th case: same waves, same hash twice.
            if seed % 20 == 0 {
                let public1 = try WavePlanner.plan(playbook: playbook, inventory: inventory, version: "1.0").get()
                let public2 = try WavePlanner.plan(playbook: playbook, inventory: inventory, version: "1.0").get()
                #expect(public1.waves == plan.waves && public1 == public2, "seed \(seed): not deterministic")
                #expect(public1.hostCount == rollout.count, "seed \(seed)")
            }
        case .failure(let error):
            #expect(!withRest && error.kind == .uncoveredHosts, "seed \(seed): \(error.kind): \(error.message)")
            uncovered += 1
        }
    }
    // The generator must exercise both outcomes, or this test proves little.
    #expect(planned > 2_000)
    #expect(uncovered > 100)
}

@Test func percentagesSummingTo100CoverEveryHostExactly() throws {
    var rng = SplitMix64(seed: 42)
    for round in 0..<2_000 {
        let hostCount = Int.random(in: 1...300, using: &rng)
        var cuts = (0..<Int.random(in: 0...5, using: &rng)).map { _ in Int.random(in: 1...99, using: &rng) }
        cuts = Array(Set(cuts)).sorted()
        let bounds = [0] + cuts + [100]
        let percents = zip(bounds, bounds.dropFirst()).map { $1 - $0 }
        let waves = percents.enumerated().map { WaveSpec(name: "p\($0.offset)", size: .percent($0.element)) }
        let playbook = PlanFixture.playbook(waves)
        let plan = try WavePlanner.assign(playbook: playbook, inventory: PlanFixture.inventory(hostCount)).get()
        let sizes = plan.waves.map(\.hosts.count)
        #expect(sizes.reduce(0, +) == hostCount, "round \(round): \(percents) of \(hostCount) gave \(sizes)")
        // Without a wave lifted to its minimum of 1, each size is its share rounded down or up.
        if percents.allSatisfy({ $0 * hostCount >= 100 }) {
            for (p, size) in zip(percents, sizes) {
                let floor = p * hostCount / 100
                #expect(size == floor || size == floor + 1, "round \(round): \(p)% of \(hostCount) gave \(size)")
            }
        }
    }
}
