import Foundation
import ITVCore
import Testing

@testable import ITVPlaybookLoader

/// Writes a valid set with one file replaced by the case's text, loads it as `itvd check` does, and
/// returns the diagnostics with the temporary directory taken off the paths.
func diagnostics(for c: MalformedCase) throws -> (set: LoadedSet?, lines: [String]) {
    let dir = try TempDir()
    var inventory = ValidSet.inventory + "\n"
    switch c.file {
    case .playbookWithServer: inventory += "  srv-01: {address: 10.0.0.9, tenant: lra, groups: [servers]}\n"
    case .playbookWithWindowsHost:
        inventory += "  ws-03: {address: 10.0.0.3, tenant: lra, groups: [workstations], os: windows}\n"
    default: break
    }
    try dir.write(
        "playbooks/demo-app.yaml",
        [.playbook, .playbookWithServer, .playbookWithWindowsHost].contains(c.file)
            ? c.text : ValidSet.playbook + "\n")
    try dir.write("inventory.yaml", c.file == .inventory ? c.text : inventory)
    let config = try dir.write("itvd.yaml", c.file == .config ? c.text : ValidSet.config + "\n")
    let loaded = SetLoader.load(configFile: config)
    return (loaded.value, loaded.diagnostics.map { $0.description.replacingOccurrences(of: dir.path + "/", with: "") })
}

@Suite struct MalformedInputTests {
    @Test func theValidSetLoads() throws {
        let c = MalformedCase("valid", .playbook, ValidSet.playbook, [])
        let result = try diagnostics(for: c)
        #expect(result.lines == [])
        #expect(result.set?.playbooks.map(\.id) == ["demo-app"])
        #expect(result.set?.inventory.hosts.count == 2)
    }

    @Test func theCorpusIsLargeAndDistinct() {
        #expect(malformedCases.count >= 40)
        #expect(Set(malformedCases.map(\.name)).count == malformedCases.count)
        #expect(Set(malformedCases.map(\.text)).count == malformedCases.count)
    }

    @Test(arguments: malformedCases)
    func malformedInputGetsTheExactDiagnostic(_ c: MalformedCase) throws {
        let started = ContinuousClock.now
        let result = try diagnostics(for: c)
        #expect(result.set == nil, "a set with a problem must not be usable")
        #expect(result.lines == c.expected)
        // Hostile documents (alias bombs, 10,000 levels) fail fast; generous bound for a busy machine.
        #expect(ContinuousClock.now - started < .seconds(5))
    }
}
