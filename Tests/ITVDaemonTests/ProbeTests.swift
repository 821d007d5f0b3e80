import Foundation
import ITVCore
import ITVEngine
import ITVSSH
import Testing

@testable import ITVDaemon

@Suite("itvd probe")
struct ProbeTests {
    @Test("the probe core reports every host in inventory order, ok or which failure")
    func probeCore() async throws {
        try await ProbeFleet.with(4) { fleet in
            try fleet.switchHost(2, "refuse")
            let executor = LibSSH2Executor(
                configuration: SSHExecutorConfiguration(
                    identityFile: fleet.identity, knownHostsFile: fleet.knownHosts, parallel: 2))
            let hosts = (1...4).map { i in
                RemoteHost(name: fleet.name(i), address: "\(fleet.base).\(i)", port: i == 3 ? 2222 : 22, user: "root")
            }
            let results = await Probe.run(hosts: hosts, executor: executor, parallel: 1)
            #expect(results.map(\.host) == hosts.map(\.name))
            #expect(results.map(\.kind) == ["ok", "auth_failed", "ok", "ok"])
            let text = Probe.formatText(results, elapsed: .milliseconds(1234))
            let lines = text.split(separator: "\n")
            #expect(lines.count == 5)
            #expect(lines[1].contains("fleet-002  auth_failed"))
            #expect(lines[4] == "probe: 3 of 4 hosts ok (1 auth_failed) in 1234 ms")
        }
    }

    @Test("itvd probe exits 0 when every selected host is ok and 1 otherwise, with one line per host")
    func probeCommand() async throws {
        try await ProbeFleet.with(3) { fleet in
            try fleet.switchHost(3, "hostkey")
            let common = [
                "probe", "--inventory", fleet.inventory, "--identity", fleet.identity, "--known-hosts",
                fleet.knownHosts,
            ]
            let all = try runBinary("itvd", common)
            #expect(all.status == 1)
            let lines = all.stdout.split(separator: "\n")
            #expect(lines.count == 4, "\(all.stdout)")
            #expect(lines[0].hasPrefix("fleet-001  ok  "))
            #expect(lines[1].hasPrefix("fleet-002  ok  "))
            #expect(lines[2].hasPrefix("fleet-003  hostkey_mismatch  "))
            #expect(lines[2].contains("SHA256:"))
            #expect(lines[3].hasPrefix("probe: 2 of 3 hosts ok (1 hostkey_mismatch)"))

            let some = try runBinary("itvd", common + ["--host", "fleet-001", "--host", "fleet-002", "--json"])
            #expect(some.status == 0, "\(some.stdout) \(some.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(some.stdout.utf8)) as? [String: Any]
            #expect(json?["total"] as? Int == 2)
            #expect(json?["ok"] as? Int == 2)
            let hosts = json?["hosts"] as? [[String: Any]]
            #expect(hosts?.map { $0["host"] as? String } == ["fleet-001", "fleet-002"])
            #expect(hosts?.allSatisfy { $0["outcome"] as? String == "ok" } == true)

            // Groups select; fleet.sh puts host i in group g(i % 5).
            let group = try runBinary("itvd", common + ["--group", "g1"])
            #expect(group.status == 0)
            #expect(group.stdout.split(separator: "\n").count == 2)
            let unknown = try runBinary("itvd", common + ["--group", "nope"])
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("group nope"))
        }
    }

    @Test("escape sequences in a message never reach the terminal")
    func terminalSafeOutput() {
        let hostile = ProbeResult(
            host: "evil\u{1b}]0;x\u{07}", outcome: .protocolError("banner \u{1b}[2J\u{1b}]52;c;ZXZpbA==\u{07}"),
            latency: .milliseconds(5))
        let text = Probe.formatText([hostile], elapsed: .milliseconds(5))
        #expect(!text.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x07 })
        #expect(text.contains("protocol_error"))
    }
}
