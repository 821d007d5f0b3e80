import Foundation
import Testing

extension E2ETests {
    /// Installer exit codes, reboots and the Windows command transport on the SSH fleet (loopback 127.0.91).
    @Suite("End to end: exit codes, reboots and Windows commands", .serialized)
    struct E2ERebootTests {
        /// A playbook for fleet host `host` whose install installs with the fake installer, then exits 100.
        static func playbook(_ id: String, host: String, steps: String) -> String {
            """
            apiVersion: itv/v1
            id: \(id)
            name: Fake application \(id)
            vendor: itv test fleet
            targets: [\(host)]
            steps:
              detect: /opt/itv-host/bin/fake-installer detect \(id)
              install: /opt/itv-host/bin/fake-installer install \(id) {{version}} && exit 100
              verify: /opt/itv-host/bin/fake-installer verify \(id) {{version}}
              timeout: 1m
              exit_codes: {100: reboot_required}
            \(steps)
            rollout:
              waves: [{name: all, size: rest, approval: auto}]
              retry_unreached: 2s
            """
        }

        struct HostList: Decodable {
            struct Host: Decodable {
                var name: String
                var rebootPending: [String]?
            }
            var hosts: [Host]
        }

        struct RunFlags: Decodable {
            struct Run: Decodable {
                var host: String
                var rebootPending: Bool?
                var errorKind: String?
            }
            var hostRuns: [Run]
        }

        static func reboots(_ fleet: E2EFleet, _ host: String) -> Int {
            guard let data = FileManager.default.contents(atPath: fleet.file(host, "reboots")) else { return 0 }
            return String(decoding: data, as: UTF8.self).split(separator: "\n").count
        }

        @Test("exit code 100 as reboot_required: never, if_required (host drops SSH, comes back), kill -9 in the wait")
        func exitCodesAndReboots() async throws {
            try await E2EFleet.with(4, base: "127.0.91") { fleet in
                for host in fleet.hostNames {
                    try FileManager.default.copyItem(
                        atPath: repositoryRoot + "/scripts/fleet-app/fake-reboot",
                        toPath: fleet.root(host) + "/bin/fake-reboot")
                }
                let playbooks = [
                    "rb-never": Self.playbook("rb-never", host: "fleet-001", steps: "  reboot: never"),
                    "rb-if": Self.playbook(
                        "rb-if", host: "fleet-002",
                        steps: "  reboot: if_required\n  reboot_command: fake-reboot 4\n  reboot_timeout: 2m"),
                    "rb-kill": Self.playbook(
                        "rb-kill", host: "fleet-003",
                        steps: "  reboot: if_required\n  reboot_command: fake-reboot 20\n  reboot_timeout: 3m"),
                    "rb-user": Self.playbook(
                        "rb-user", host: "fleet-004",
                        steps: "  reboot: if_required_and_no_user\n  reboot_command: fake-reboot 4\n"
                            + "  user_check: cat /opt/itv-host/users 2>/dev/null || true"),
                ]
                try Data("alice    pts/0        2026-12-05 08:01 (10.1.0.5)\n".utf8).write(
                    to: URL(fileURLWithPath: fleet.file("fleet-004", "users")))
                try await E2EDaemon.with(fleet: fleet, playbooks: playbooks) { itvd in
                    // reboot: never -> succeeded, reboot pending (rollout show, host list, status).
                    let never = try itvd.startRollout("rb-never", "2.0")
                    // if_required -> the reboot command runs once, the host drops SSH and comes back, verify runs.
                    let ifRequired = try itvd.startRollout("rb-if", "2.0")
                    // if_required_and_no_user with alice logged on -> deferred (user logged on), not restarted.
                    let user = try itvd.startRollout("rb-user", "2.0")
                    for rid in [never, ifRequired] { try await itvd.waitForPhase(rid, "succeeded") }
                    try await itvd.waitFor(user, "fleet-004 deferred (user logged on)") {
                        $0.run("fleet-004")?.phase == "deferred" && $0.run("fleet-004")?.errorKind == "user_logged_on"
                    }

                    let neverRuns = try e2eDecode(
                        RunFlags.self, try itvd.ok(["--json", "rollout", "show", String(never)]))
                    #expect(neverRuns.hostRuns.first?.rebootPending == true)
                    #expect(fleet.version("fleet-001", "rb-never") == "2.0")
                    #expect(Self.reboots(fleet, "fleet-001") == 0)
                    let show = try itvd.ok(["rollout", "show", String(never)])
                    #expect(show.contains("succeeded, reboot pending"), "\(show)")

                    #expect(Self.reboots(fleet, "fleet-002") == 1)
                    let ifRuns = try e2eDecode(
                        RunFlags.self, try itvd.ok(["--json", "rollout", "show", String(ifRequired)]))
                    #expect(ifRuns.hostRuns.first?.rebootPending == nil, "restarted: nothing pending")
                    #expect(itvd.logTail(200_000).contains("fleet-002 restarts: the host is back"), "\(itvd.logTail())")

                    let userRuns = try e2eDecode(
                        RunFlags.self, try itvd.ok(["--json", "rollout", "show", String(user)]))
                    #expect(userRuns.hostRuns.first?.rebootPending == true)
                    #expect(Self.reboots(fleet, "fleet-004") == 0)

                    let hosts = try e2eDecode(HostList.self, try itvd.ok(["--json", "host", "list"]))
                    let pending = Dictionary(
                        uniqueKeysWithValues: hosts.hosts.map { ($0.name, $0.rebootPending ?? []) })
                    #expect(pending["fleet-001"] == ["rb-never"] && pending["fleet-004"] == ["rb-user"])
                    #expect(pending["fleet-002"] == [] && pending["fleet-003"] == [])
                    let table = try itvd.ok(["host", "list"])
                    #expect(
                        table.split(separator: "\n").filter { $0.hasSuffix(", reboot pending") }.count == 2, "\(table)")
                    let status = try itvd.ok(["status"])
                    #expect(status.contains("reboots pending on 2 host(s)"), "\(status)")
                    // Alice logs off: the deferred host is caught up, restarted once, and the rollout ends.
                    #expect(Self.reboots(fleet, "fleet-004") == 0, "still deferred while alice is on")
                    try FileManager.default.removeItem(atPath: fleet.file("fleet-004", "users"))
                    try await itvd.waitForPhase(user, "succeeded")
                    #expect(Self.reboots(fleet, "fleet-004") == 1)
                    #expect(fleet.installs("fleet-004", "rb-user", of: "2.0") == 1)

                    // kill -9 while the host restarts: the wait resumes, the host is restarted once only.
                    let killed = try itvd.startRollout("rb-kill", "2.0")
                    let deadline = Date().addingTimeInterval(120)
                    while Self.reboots(fleet, "fleet-003") == 0 {
                        guard Date() < deadline else {
                            throw E2EFailure(
                                description: "fleet-003 was not restarted: \(try itvd.show(killed).summary)")
                        }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    itvd.kill9()
                    try await itvd.start()
                    let done = try await itvd.waitForPhase(killed, "succeeded", timeout: 240)
                    #expect(done.run("fleet-003")?.phase == "succeeded", "\(done.summary)")
                    #expect(
                        Self.reboots(fleet, "fleet-003") == 1, "restarted \(Self.reboots(fleet, "fleet-003")) times")
                    #expect(fleet.version("fleet-003", "rb-kill") == "2.0")
                }
            }
        }

        @Test("every Windows step arrives as the rendered script, byte for byte (quotes, umlauts, $, newlines)")
        func windowsTransport() async throws {
            try await E2EFleet.with(2, base: "127.0.92") { fleet in
                try FileManager.default.copyItem(
                    atPath: repositoryRoot + "/scripts/fleet-app/powershell.exe",
                    toPath: fleet.root("fleet-001") + "/bin/powershell.exe")
                // fleet-001 is a Windows host; its powershell.exe is the stand-in.
                let inventory = try String(contentsOfFile: fleet.inventory, encoding: .utf8)
                    .split(separator: "\n", omittingEmptySubsequences: false)
                    .map {
                        $0.contains("fleet-001:")
                            ? $0.replacingOccurrences(of: "os: linux", with: "os: windows") : String($0)
                    }
                    .joined(separator: "\n")
                try Data(inventory.utf8).write(to: URL(fileURLWithPath: fleet.inventory))
                let detect =
                    #"$v = Get-ItemPropertyValue -Path 'HKLM:\SOFTWARE\Müller & Söhne' -Name "Version" 2>$null"#
                    + "\n" + #"if ($v) { Write-Output "$v" }"#
                let install =
                    #"$p = Start-Process msiexec.exe -ArgumentList '/i', "C:\itv\Grüße ""neu"".msi", '/qn' -Wait -PassThru; "#
                    + #"exit $p.ExitCode # {{version}} on {{host}}"#
                let verify = #"if ((& "C:\Program Files\Äpfel\app.exe" --version) -ne {{version}}) { exit 1 }"#
                func block(_ script: String) -> String {
                    "    windows: |-\n" + script.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n")
                }
                let playbook = """
                    apiVersion: itv/v1
                    id: win-app
                    name: Windows application
                    vendor: itv test fleet
                    targets: [fleet-001]
                    steps:
                      detect:
                    \(block(detect))
                      install:
                    \(block(install))
                      verify:
                    \(block(verify))
                      timeout: 1m
                    rollout:
                      waves: [{name: all, size: rest, approval: auto}]
                    """
                try await E2EDaemon.with(fleet: fleet, playbooks: ["win-app": playbook]) { itvd in
                    let rid = try itvd.startRollout("win-app", "2.0")
                    let done = try await itvd.waitForPhase(rid, "succeeded")
                    #expect(done.run("fleet-001")?.phase == "succeeded", "\(done.summary)")
                    let dir = fleet.root("fleet-001") + "/ps"
                    func read(_ name: String) -> String? {
                        FileManager.default.contents(atPath: dir + "/" + name).map {
                            String(decoding: $0, as: UTF8.self)
                        }
                    }
                    // PowerShell single quotes around substituted values.
                    let rendered = [
                        detect,
                        install.replacingOccurrences(of: "{{version}}", with: "'2.0'")
                            .replacingOccurrences(of: "{{host}}", with: "'fleet-001'"),
                        verify.replacingOccurrences(of: "{{version}}", with: "'2.0'"),
                    ]
                    for (i, expected) in rendered.enumerated() {
                        let name = String(format: "%04d", i + 1)
                        #expect(read(name + ".ps1") == expected, "script \(name)")
                        #expect(read(name + ".args") == "-NoProfile -NonInteractive -ExecutionPolicy Bypass\n")
                    }
                    #expect(read("0004.ps1") == nil, "three steps, three scripts")
                }
            }
        }
    }
}
