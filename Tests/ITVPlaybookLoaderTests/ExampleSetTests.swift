import Foundation
import ITVCore
import Testing

@testable import ITVPlaybookLoader

/// The repository's root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

@Suite struct ExampleSetTests {
    let loaded = SetLoader.load(configFile: repositoryRoot + "/examples/itvd.yaml")

    @Test func theExamplesLoadWithoutAProblem() throws {
        #expect(loaded.diagnostics.map(\.description) == [])
        let set = try #require(loaded.value)
        #expect(set.playbooks.count >= 12)
        #expect(Set(set.inventory.tenants.keys) == ["landratsamt", "egling"])
    }

    @Test func theExamplesCoverEveryFeedKindSchemeAndOS() throws {
        let set = try #require(loaded.value)
        let feeds = set.playbooks.compactMap(\.feed)
        #expect(Set(feeds.map(\.kind)) == Set(FeedKind.allCases))
        #expect(Set(feeds.map(\.scheme)) == Set(VersionScheme.allCases))
        let hosts = set.playbooks.flatMap { set.inventory.hosts(forTargets: $0.targets.map(\.value)) }
        #expect(Set(hosts.map(\.os)) == Set(OSFamily.allCases))
        #expect(
            hosts.contains { $0.groups.contains("servers") } && hosts.contains { $0.groups.contains("workstations") })
        #expect(set.playbooks.contains { $0.rollout.waves.contains { $0.approvals == 2 } })
        #expect(set.playbooks.contains { $0.rollout.waves.contains { $0.approval == .window } })
    }

    @Test func everyExamplePlansWithEveryHostInOneWave() throws {
        let set = try #require(loaded.value)
        for playbook in set.playbooks {
            let plan = try WavePlanner.plan(playbook: playbook, inventory: set.inventory, version: "1.0").get()
            let planned = plan.waves.flatMap(\.hosts)
            let expected = set.inventory.hosts(forTargets: playbook.targets.map(\.value)).map(\.name)
            #expect(planned.sorted() == expected.sorted(), "\(playbook.id)")
            #expect(Set(planned).count == planned.count, "\(playbook.id)")
        }
    }

    @Test func relativePathsInTheConfigAreRelativeToItsDirectory() throws {
        let set = try #require(loaded.value)
        #expect(set.config.playbooks == repositoryRoot + "/playbooks")
        #expect(set.config.inventory == repositoryRoot + "/examples/inventory.yaml")
        #expect(set.config.windows["evening"]?.duration == TimeSpan(seconds: 4 * 3600))
    }

    @Test func overridesReplaceConfigurationKeys() throws {
        let dir = try TempDir()
        let set = try #require(
            SetLoader.load(
                configFile: repositoryRoot + "/examples/itvd.yaml",
                overrides: ConfigOverrides(state: dir.path, socket: dir.path + "/s.sock")
            ).value)
        #expect(set.config.state == dir.path)
        #expect(set.config.socket == dir.path + "/s.sock")
    }
}
