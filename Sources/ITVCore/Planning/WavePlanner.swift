/// Splits a rollout's hosts into the playbook's waves.
///
/// The rollout's hosts are `inventory.hosts(forTargets:)` of the playbook's targets, in inventory order.
/// The rules (they are the README's playbook reference):
///
/// - Every rollout host ends in exactly one wave, and the same playbook, inventory and version always give
///   the same plan: nothing is random.
/// - Hosts are assigned in four passes:
///   1. `hosts:` waves take the hosts they name, in the order written. Each must be a rollout host (in the
///      inventory and selected by `targets`), and no host may be named twice, by one wave or by two.
///   2. `group:` waves, in declaration order, take the rollout's hosts of that group that no earlier pass
///      took. The group must hold at least one rollout host.
///   3. `count` and `percent` waves, in declaration order, take the next hosts, in inventory order, from
///      those still unassigned.
///   4. The `rest` wave (at most one) takes every host still unassigned.
/// - A percentage is of ALL the rollout's hosts, not of those left. The percent waves are sized together
///   by the largest-remainder method (the share the percentages leave to other waves counts as one more
///   party; ties go to the wave declared first), so percentages that sum to 100 give sizes that sum to
///   exactly the host count. Percentages must not sum to more than 100.
/// - A percent wave gets at least 1 host while hosts remain, so rounding never empties it. No `count` or
///   `percent` wave takes more hosts than remain; once none remain, later waves are empty. Empty waves stay
///   in the plan so that wave numbers are those of the playbook.
/// - Hosts left over when there is no `rest` wave are an error (`uncovered_hosts`): add a wave with
///   `size: rest`.
public enum WavePlanner {
    /// How many host names an `uncovered_hosts` message lists before "and N more".
    static let listedUncoveredHosts = 20

    /// Plans the rollout of `playbook` to `version` on the hosts of `inventory`. `artifact` is the verified
    /// installer of that version (for a playbook with `artifact:`); it becomes part of the plan and its hash.
    public static func plan(
        playbook: Playbook, inventory: Inventory, version: String, artifact: PlannedArtifact? = nil
    ) -> Result<RolloutPlan, PlanError> {
        assign(playbook: playbook, inventory: inventory).map { assignment in
            let encoding = PlanEncoding.encode(
                playbook: playbook, version: version, waves: assignment.waves, hosts: assignment.hosts,
                artifact: artifact)
            return RolloutPlan(
                procedure: playbook.id, version: version, waves: assignment.waves, hash: SHA256.hexDigest(encoding),
                artifact: artifact)
        }
    }

    /// The waves of a plan, and the rollout's hosts by name (what the hash needs).
    struct Assignment {
        let waves: [PlannedWave]
        let hosts: [String: Host]
    }

    /// Everything `plan` does but the hash: the tests that plan thousands of random rollouts call this,
    /// because hashing dominates their time in debug builds.
    static func assign(playbook: Playbook, inventory: Inventory) -> Result<Assignment, PlanError> {
        let procedure = playbook.id
        let hosts = inventory.hosts(forTargets: playbook.targets.map(\.value))
        let specs = playbook.rollout.waves
        if hosts.isEmpty {
            let targets = playbook.targets.map(\.value).joined(separator: ", ")
            return fail(
                .noHosts, "cannot plan \(procedure): its targets (\(targets)) select no host of the inventory")
        }
        var hostsByName: [String: Host] = [:]
        for host in hosts {
            if hostsByName.updateValue(host, forKey: host.name) != nil {
                return fail(.duplicateHost, "cannot plan \(procedure): the inventory lists host \(host.name) twice")
            }
        }
        if let error = checkWaves(specs, procedure: procedure) { return .failure(error) }

        var passes = Passes(specs: specs, procedure: procedure, hosts: hosts, hostsByName: hostsByName)
        if let error = passes.takeNamedHosts(inventory: inventory) { return .failure(error) }
        if let error = passes.takeGroups(inventory: inventory) { return .failure(error) }
        passes.takeSizes()
        if let error = passes.takeRest() { return .failure(error) }
        let waves = specs.enumerated().map {
            PlannedWave(index: $0.offset, spec: $0.element, hosts: passes.assigned[$0.offset])
        }
        return .success(Assignment(waves: waves, hosts: hostsByName))
    }

    /// The four passes of `assign`, in the order they run (see the rules above); each takes hosts no earlier
    /// pass took.
    struct Passes {
        let specs: [WaveSpec]
        let procedure: String
        /// The rollout's hosts, in inventory order.
        let hosts: [Host]
        let hostsByName: [String: Host]
        /// The hosts of each wave, by wave index.
        var assigned: [[String]]
        /// The wave that took each host.
        var owner: [String: Int] = [:]
        /// The hosts no `hosts:` or `group:` wave took, in inventory order (set by `takeSizes`), and how many of
        /// them the size waves took.
        var left: [String] = []
        var next = 0

        init(specs: [WaveSpec], procedure: String, hosts: [Host], hostsByName: [String: Host]) {
            self.specs = specs
            self.procedure = procedure
            self.hosts = hosts
            self.hostsByName = hostsByName
            assigned = [[String]](repeating: [], count: specs.count)
        }

        /// 1. `hosts:` waves take the hosts they name, in the order written.
        mutating func takeNamedHosts(inventory: Inventory) -> PlanError? {
            for (i, spec) in specs.enumerated() {
                guard case .hosts(let names) = spec.size else { continue }
                for name in names {
                    if hostsByName[name] == nil {
                        let why =
                            inventory.host(named: name) == nil
                            ? "which is not in the inventory"
                            : "which is in the inventory but not selected by the targets of \(procedure)"
                        return PlanError(kind: .unknownHost, message: "wave \(spec.name) names host \(name), \(why)")
                    }
                    if let other = owner[name] {
                        let message =
                            other == i
                            ? "wave \(spec.name) names host \(name) twice"
                            : "host \(name) is named by both wave \(specs[other].name) and wave \(spec.name); "
                                + "a host must be in exactly one wave"
                        return PlanError(kind: .overlappingWaves, message: message)
                    }
                    owner[name] = i
                    assigned[i].append(name)
                }
            }
            return nil
        }

        /// 2. `group:` waves, in declaration order, take their group's hosts that are still free.
        mutating func takeGroups(inventory: Inventory) -> PlanError? {
            for (i, spec) in specs.enumerated() {
                guard case .group(let group) = spec.size else { continue }
                let members = hosts.filter { $0.groups.contains(group) }
                if members.isEmpty {
                    let why =
                        inventory.groups.contains(group)
                        ? "none of whose hosts is selected by the targets of \(procedure)"
                        : "which no host of the inventory is in"
                    return PlanError(kind: .unknownGroup, message: "wave \(spec.name) takes group \(group), \(why)")
                }
                for host in members where owner[host.name] == nil {
                    owner[host.name] = i
                    assigned[i].append(host.name)
                }
            }
            return nil
        }

        /// 3. Counts and percentages, from the hosts left, in inventory order.
        mutating func takeSizes() {
            left = hosts.map(\.name).filter { owner[$0] == nil }
            next = 0
            let percentSizes = largestRemainderSizes(
                percents: specs.map { if case .percent(let p) = $0.size { p } else { nil } }, total: hosts.count)
            for (i, spec) in specs.enumerated() {
                let wanted: Int
                switch spec.size {
                case .count(let n): wanted = n
                case .percent: wanted = max(percentSizes[i] ?? 0, 1)
                default: continue
                }
                let taken = min(wanted, left.count - next)
                assigned[i] = Array(left[next..<(next + taken)])
                next += taken
            }
        }

        /// 4. The `rest` wave takes every host still free; without one, hosts left over are an error.
        mutating func takeRest() -> PlanError? {
            if let i = specs.firstIndex(where: { $0.size == .rest }) {
                assigned[i] = Array(left[next...])
                next = left.count
            }
            guard next < left.count else { return nil }
            let uncovered = Array(left[next...])
            var list = uncovered.prefix(listedUncoveredHosts).joined(separator: ", ")
            if uncovered.count > listedUncoveredHosts { list += " and \(uncovered.count - listedUncoveredHosts) more" }
            return PlanError(
                kind: .uncoveredHosts,
                message: "\(uncovered.count) of the \(hosts.count) hosts of \(procedure) are in no wave: \(list); "
                    + "add a wave with size: rest")
        }
    }

    /// Checks what needs no inventory: at least one wave, unique names, sizes in range, one `rest` at most,
    /// percentages summing to at most 100, no empty `hosts:` list.
    static func checkWaves(_ specs: [WaveSpec], procedure: String) -> PlanError? {
        if specs.isEmpty { return PlanError(kind: .noWaves, message: "cannot plan \(procedure): it has no waves") }
        var names: Set<String> = []
        var rests: [String] = []
        var percentSum = 0
        for spec in specs {
            if !names.insert(spec.name).inserted {
                return PlanError(kind: .duplicateWave, message: "two waves of \(procedure) are named \(spec.name)")
            }
            switch spec.size {
            case .count(let n) where n < 1:
                return PlanError(
                    kind: .invalidSize, message: "wave \(spec.name) has size \(n); a count is at least 1")
            case .percent(let p) where p < 1 || p > 100:
                return PlanError(
                    kind: .invalidSize, message: "wave \(spec.name) has size \(p)%; a percentage is 1% to 100%")
            case .percent(let p):
                percentSum += p
            case .rest:
                rests.append(spec.name)
            case .hosts(let list) where list.isEmpty:
                return PlanError(kind: .emptyWave, message: "wave \(spec.name) has an empty hosts list")
            default:
                break
            }
        }
        if rests.count > 1 {
            return PlanError(
                kind: .multipleRestWaves,
                message: "waves \(rests.joined(separator: ", ")) all have size rest; at most one wave may")
        }
        if percentSum > 100 {
            return PlanError(
                kind: .invalidSize,
                message: "the percent waves of \(procedure) add up to \(percentSum)%, more than all hosts (100%)")
        }
        return nil
    }

    /// Largest-remainder sizes of the percent waves (nil entries are other waves) of `total` hosts. The share
    /// the percentages leave (100 - sum) takes part as one more party, last in tie order, so that the sizes
    /// are each percentage's share rounded the same way whether or not they sum to 100.
    static func largestRemainderSizes(percents: [Int?], total: Int) -> [Int?] {
        var parties: [(wave: Int?, percent: Int)] = percents.enumerated().compactMap { i, p in p.map { (i, $0) } }
        let sum = parties.reduce(0) { $0 + $1.percent }
        if sum < 100 { parties.append((nil, 100 - sum)) }
        var sizes = parties.map { $0.percent * total / 100 }
        let leftover = total - sizes.reduce(0, +)
        // Stable sort by remainder, descending: ties keep declaration order, the implicit party last.
        let order = parties.indices.sorted { a, b in
            let ra = parties[a].percent * total % 100, rb = parties[b].percent * total % 100
            return ra != rb ? ra > rb : a < b
        }
        for k in order.prefix(max(leftover, 0)) { sizes[k] += 1 }
        var out = [Int?](repeating: nil, count: percents.count)
        for (k, party) in parties.enumerated() {
            if let wave = party.wave { out[wave] = sizes[k] }
        }
        return out
    }

    private static func fail<T>(_ kind: ITVErrorKind, _ message: String) -> Result<T, PlanError> {
        .failure(PlanError(kind: kind, message: message))
    }
}
