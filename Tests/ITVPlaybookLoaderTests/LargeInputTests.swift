import Foundation
import ITVCore
import Testing

@testable import ITVPlaybookLoader

/// Input that grows: composing is linear in the document's size, and what a file may hold is bounded with a
/// diagnostic at the place the bound was crossed. Times are asserted in orders of magnitude only.
@Suite(.serialized) struct LargeInputTests {
    /// A flow-free mapping of `count` distinct keys, or a list of `count` items, under `parent:`.
    static func document(keys count: Int) -> [UInt8] {
        var text = "parent:\n"
        text.reserveCapacity(count * 16)
        for i in 0..<count { text += "  key\(i): v\n" }
        return Array(text.utf8)
    }

    static func document(items count: Int) -> [UInt8] {
        var text = "parent:\n"
        text.reserveCapacity(count * 12)
        for i in 0..<count { text += "  - item\(i)\n" }
        return Array(text.utf8)
    }

    static let generous = YAMLLimits(
        maxBytes: 64 << 20, maxExpandedNodes: 10_000_000, maxKeysPerMapping: 1_000_000,
        maxItemsPerSequence: 1_000_000)

    /// The fastest of two runs, in seconds (the machine is shared: the minimum is the least disturbed).
    static func seconds(_ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<2 {
            let start = ContinuousClock.now
            body()
            let elapsed = ContinuousClock.now - start
            best = min(best, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        return best
    }

    static func composed(_ bytes: [UInt8]) -> YNode? {
        guard case .success(let node) = YAMLComposer.compose(bytes, file: "big.yaml", limits: generous) else {
            return nil
        }
        return node
    }

    /// 10^5 keys in one mapping took minutes (every key copied the mapping so far); now well under seconds,
    /// and twice the keys take about twice the time, not four times.
    @Test func aMappingOfAHundredThousandKeysComposesInLinearTime() throws {
        let small = Self.document(keys: 100_000)
        let large = Self.document(keys: 200_000)
        var node: YNode?
        let t1 = Self.seconds { node = Self.composed(small) }
        guard case .mapping(let top, _) = try #require(node), case .mapping(let entries, _) = top[0].value else {
            Issue.record("not a mapping")
            return
        }
        #expect(entries.count == 100_000)
        let t2 = Self.seconds { _ = Self.composed(large) }
        #expect(t1 < 20, "10^5 keys took \(t1) s")
        #expect(t2 < 3 * t1 + 0.5, "2 x 10^5 keys took \(t2) s, 10^5 took \(t1) s: not linear")
    }

    @Test func aListOfAHundredThousandItemsComposesInLinearTime() throws {
        let small = Self.document(items: 100_000)
        let large = Self.document(items: 200_000)
        var node: YNode?
        let t1 = Self.seconds { node = Self.composed(small) }
        guard case .mapping(let top, _) = try #require(node), case .sequence(let items, _) = top[0].value else {
            Issue.record("not a list")
            return
        }
        #expect(items.count == 100_000)
        let t2 = Self.seconds { _ = Self.composed(large) }
        #expect(t1 < 20, "10^5 items took \(t1) s")
        #expect(t2 < 3 * t1 + 0.5, "2 x 10^5 items took \(t2) s, 10^5 took \(t1) s: not linear")
    }

    /// The issue's playbook: 60,000 keys in one mapping, 0.6 MB. Refused at once, at the first key too many.
    @Test func aPlaybookWithTooManyKeysIsRefusedAtTheKeyThatCrossesTheBound() {
        var text = ValidSet.playbook + "\nextra:\n"
        for i in 0..<60_000 { text += "  k\(i): 1\n" }
        let start = ContinuousClock.now
        let loaded = PlaybookLoader.parse(Array(text.utf8), file: "pb.yaml")
        #expect(ContinuousClock.now - start < .seconds(10))
        #expect(loaded.value == nil)
        let firstLine = ValidSet.playbook.split(separator: "\n", omittingEmptySubsequences: false).count + 2
        #expect(
            loaded.diagnostics.map(\.description) == [
                "pb.yaml:\(firstLine + 1_000):3: a mapping holds more than 1000 keys (the mapping starts at line "
                    + "\(firstLine)); refusing it"
            ])
    }

    @Test func aPlaybookListingTooManyTargetsIsRefused() {
        var text = ValidSet.playbook.replacingOccurrences(of: "targets: [workstations]", with: "targets:")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let at = lines.firstIndex(of: "targets:") ?? 0
        let items = (0..<100_000).map { "  - host-\($0)" }
        text = (lines[...at] + items + lines[(at + 1)...]).joined(separator: "\n")
        let loaded = PlaybookLoader.parse(Array(text.utf8), file: "pb.yaml")
        #expect(loaded.value == nil)
        #expect(loaded.diagnostics.count == 1)
        #expect(
            loaded.diagnostics.first?.message
                == "a list holds more than 50000 items (the list starts at line \(at + 2)); refusing it")
        #expect(loaded.diagnostics.first?.location.line == at + 2 + 50_000)
    }

    @Test func aRolloutWithTooManyWavesIsRefused() {
        var text = ValidSet.playbook.replacingOccurrences(
            of: "    - {name: canary, size: 1, approval: auto}\n", with: "")
        let waves = (0..<150).map { "    - {name: w\($0), size: 1}\n" }.joined()
        text = text.replacingOccurrences(of: "  waves:\n", with: "  waves:\n" + waves)
        let loaded = PlaybookLoader.parse(Array(text.utf8), file: "pb.yaml")
        #expect(loaded.value == nil)
        #expect(loaded.diagnostics.map(\.message).contains("rollout.waves lists 151 waves; a rollout has at most 100"))
    }

    /// Thousands of problems in one file: the first hundred are reported, then how many more there were.
    @Test func aFileWithThousandsOfProblemsReportsAHundredAndACount() {
        var text = ValidSet.playbook + "\n"
        for i in 0..<900 { text += "unknown\(i): 1\n" }
        let loaded = PlaybookLoader.parse(Array(text.utf8), file: "pb.yaml")
        #expect(loaded.diagnostics.count == 101)
        #expect(
            loaded.diagnostics.last?.message
                == "800 more problem(s) in this file are not shown (only the first 100 are)")
    }

    /// An inventory is allowed to be large: 20,000 hosts (25 times the cooperative's) load in seconds.
    @Test func anInventoryOfTwentyThousandHostsLoads() throws {
        var text = "tenants: {t: {name: T}}\nhosts:\n"
        for i in 0..<20_000 {
            text +=
                "  h\(i): {address: 10.\(i / 65_536).\(i / 256 % 256).\(i % 256), tenant: t, groups: [g\(i % 20)]}\n"
        }
        let start = ContinuousClock.now
        let loaded = InventoryLoader.parse(Array(text.utf8), file: "inventory.yaml")
        #expect(ContinuousClock.now - start < .seconds(30))
        #expect(loaded.diagnostics.isEmpty, "\(loaded.diagnostics.prefix(3))")
        #expect(loaded.value?.hosts.count == 20_000)
    }

    /// Ansible group variables are kept only when itvd uses them: a group with 50,000 variables and 2,000
    /// hosts does not copy 50,000 variables into every host.
    @Test func ansibleGroupVariablesItvdIgnoresCostNothingPerHost() throws {
        var text = "all:\n  vars:\n"
        for i in 0..<50_000 { text += "    var\(i): x\n" }
        text += "    itv_tenant: t\n  hosts:\n"
        for i in 0..<2_000 { text += "    h\(i): {ansible_host: 10.0.\(i / 256).\(i % 256)}\n" }
        let start = ContinuousClock.now
        let loaded = InventoryLoader.parse(Array(text.utf8), file: "inventory.yaml")
        #expect(ContinuousClock.now - start < .seconds(30))
        #expect(loaded.diagnostics.isEmpty, "\(loaded.diagnostics.prefix(3))")
        #expect(loaded.value?.hosts.count == 2_000)
        #expect(loaded.value?.hosts.first?.tenant == "t")
    }

    /// 40,000 unknown targets against an inventory of 20,000 hosts: each was compared with every name of the
    /// inventory for a suggestion. Now 100 are reported (and searched), then a count.
    @Test func manyUnknownTargetsCostAHundredDiagnostics() throws {
        let dir = try TempDir()
        var inventory = "tenants: {t: {name: T}}\nhosts:\n"
        for i in 0..<20_000 { inventory += "  host-\(i): {address: 10.0.\(i / 256 % 256).\(i % 256), tenant: t}\n" }
        try dir.write("inventory.yaml", inventory)
        let targets = (0..<40_000).map { "  - nohost-\($0)" }.joined(separator: "\n")
        try dir.write(
            "playbooks/app.yaml",
            ValidSet.playbook.replacingOccurrences(of: "targets: [workstations]", with: "targets:\n" + targets)
                .replacingOccurrences(of: "  kind: json", with: "  kind: json"))
        let start = ContinuousClock.now
        let loaded = SetLoader.load(
            configFile: nil,
            overrides: ConfigOverrides(playbooks: dir.path + "/playbooks", inventory: dir.path + "/inventory.yaml"))
        #expect(ContinuousClock.now - start < .seconds(60))
        #expect(loaded.diagnostics.count == 101, "\(loaded.diagnostics.count)")
        #expect(
            loaded.diagnostics.contains {
                $0.message
                    == "39900 more problem(s) with this playbook's references are not shown (only the first 100 are)"
            })
    }

    /// A directory of broken playbooks: at most 1,000 diagnostics for the whole load (what `itvctl reload`
    /// answers and a failed reload journals), then a count.
    @Test func aBrokenDirectoryGetsAThousandDiagnostics() throws {
        let dir = try TempDir()
        try dir.write("inventory.yaml", ValidSet.inventory + "\n")
        let bad = (0..<60).map { "unknown\($0): 1" }.joined(separator: "\n")
        for i in 0..<30 { try dir.write("playbooks/p\(i).yaml", bad + "\n") }
        let loaded = SetLoader.load(
            configFile: nil,
            overrides: ConfigOverrides(playbooks: dir.path + "/playbooks", inventory: dir.path + "/inventory.yaml"))
        // Each file: 60 unknown keys and 7 missing ones (apiVersion, id, name, vendor, targets, steps, rollout).
        #expect(loaded.diagnostics.count == 1_001)
        #expect(loaded.diagnostics.last?.message == "1010 more problem(s) are not shown (only the first 1000 are)")
    }
}
