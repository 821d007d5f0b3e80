import Foundation
import ITVDaemon
import ITVProtocol
import Testing

/// `itvd check` as an operator runs it: the built binary, its output and exit code.
@Suite struct CheckCommandTests {
    @Test func theRepositoryExamplesAreClean() throws {
        let r = try runBinary("itvd", ["check", "--config", repositoryRoot + "/examples/itvd.yaml"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr == "")
        #expect(r.stdout.hasPrefix("ok: 14 playbooks, 13 hosts, 2 tenants, 3 windows"))
    }

    @Test func playbooksAndInventoryWithoutAConfig() throws {
        // Without a config there are no windows, so playbooks that name one are reported.
        let r = try runBinary(
            "itvd",
            [
                "check", "--playbooks", repositoryRoot + "/playbooks", "--inventory",
                repositoryRoot + "/examples/inventory.yaml",
            ])
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(
            lines.contains(
                repositoryRoot + "/playbooks/firefox-esr.yaml:29:3: unknown window 'evening'; "
                    + "windows are declared in itvd.yaml under windows: (declared: none)"))
        #expect(lines.last == "itvd check: \(lines.count - 1) problem(s)")
    }

    @Test func everyProblemOfEveryFileIsPrintedWithItsLocation() throws {
        let dir = try TempDir()
        try dir.write("inventory.yaml", "tenants: {a: {name: A}}\nhosts:\n  h1: {address: 10.0.0.1, tenant: b}\n")
        try dir.write("playbooks/one.yaml", "apiVersion: itv/v1\nid: One\n")
        try dir.write("playbooks/two.yml", "id: [\n")
        try dir.write("playbooks/notes.txt", "not a playbook")
        let r = try runBinary(
            "itvd",
            [
                "check", "--playbooks", dir.path + "/playbooks", "--inventory",
                dir.path + "/inventory.yaml",
            ])
        #expect(r.status == 1)
        #expect(r.stdout == "")
        let p = dir.path + "/"
        #expect(
            r.stderr.split(separator: "\n").map(String.init) == [
                p + "inventory.yaml:3:35: host 'h1': unknown tenant 'b'",
                p + "playbooks/one.yaml:1:1: missing key 'name' in the playbook",
                p + "playbooks/one.yaml:1:1: missing key 'rollout' in the playbook",
                p + "playbooks/one.yaml:1:1: missing key 'steps' in the playbook",
                p + "playbooks/one.yaml:1:1: missing key 'targets' in the playbook",
                p + "playbooks/one.yaml:1:1: missing key 'vendor' in the playbook",
                p
                    + "playbooks/one.yaml:2:5: id 'One' is not a valid procedure id: use lowercase letters, digits and '-', "
                    + "starting with a letter or digit, at most 63 characters",
                p
                    + "playbooks/two.yml:2:1: YAML syntax error: did not find expected node content (while parsing a flow node)",
                "itvd check: 8 problem(s)",
            ])
    }

    @Test func aMissingFileIsAProblemNotACrash() throws {
        let r = try runBinary(
            "itvd", ["check", "--playbooks", "/nonexistent/pb", "--inventory", "/nonexistent/inv.yaml"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("/nonexistent/inv.yaml:1:1: cannot read: No such file or directory"))
        #expect(r.stderr.contains("/nonexistent/pb:1:1: cannot read the playbooks directory"))
    }

    /// A set in a temporary directory: one host (at `address`), one playbook (`app.yaml`) as given.
    static func set(playbook: String, address: String = "10.0.0.1") throws -> TempDir {
        let dir = try TempDir()
        try dir.write(
            "inventory.yaml", "tenants: {t: {name: T}}\nhosts:\n  h1: {address: \(address), tenant: t}\n")
        try dir.write("playbooks/app.yaml", playbook)
        return dir
    }

    static let playbook = """
        apiVersion: itv/v1
        id: app
        name: App
        vendor: V
        targets: [h1]
        steps: {detect: d, install: i, verify: v}
        rollout:
          waves: [{name: all, size: rest, approval: auto}]

        """

    func check(_ dir: TempDir) throws -> RunResult {
        try runProgram(
            binDir + "/itvd",
            ["check", "--playbooks", dir.path + "/playbooks", "--inventory", dir.path + "/inventory.yaml"],
            timeout: 120)
    }

    /// The issue's playbook: 0.6 MB, 60,000 keys in one mapping. It kept `itvd check` busy for minutes; now it
    /// is refused in seconds at the key that crosses the bound.
    @Test func aPlaybookWithSixtyThousandKeysIsRefusedInSeconds() throws {
        var text = Self.playbook + "extra:\n"
        for i in 0..<60_000 { text += "  key-\(i): 1\n" }
        let dir = try Self.set(playbook: text)
        let start = ContinuousClock.now
        let r = try check(dir)
        #expect(ContinuousClock.now - start < .seconds(60))
        #expect(r.status == 1)
        #expect(
            r.stderr.contains(
                dir.path + "/playbooks/app.yaml:1010:3: a mapping holds more than 1000 keys (the mapping starts at "
                    + "line 10); refusing it"),
            "\(r.stderr.prefix(500))")
    }

    /// playbooks/x.yaml -> a secret file elsewhere: refused by name, nothing of it quoted.
    @Test func aPlaybookSymlinkedToASecretIsRefusedAndNotQuoted() throws {
        let dir = try Self.set(playbook: Self.playbook)
        let secret = try dir.write("secret/shadow", "root:$6$SECRETHASH$abcdef:19000:0:99999:7:::\nSECRET-KEY: 1\n")
        try FileManager.default.createSymbolicLink(
            atPath: dir.path + "/playbooks/x.yaml", withDestinationPath: secret)
        let r = try check(dir)
        #expect(r.status == 1)
        #expect(r.stderr.contains(dir.path + "/playbooks/x.yaml:1:1: refused: it resolves to "), "\(r.stderr)")
        #expect(!r.stderr.contains("SECRET"), "\(r.stderr)")
    }

    /// A 100 KB line of control characters (YAML escapes in a double-quoted string: ESC, BEL) and text as a key
    /// (an explicit one: libyaml allows 1024 characters in a plain `key:`): a short, escaped excerpt.
    @Test func aHostileLongLineIsQuotedShortAndEscaped() throws {
        let hostile = #"\e[2J\e]0;owned\a"# + String(repeating: "B", count: 100_000)
        let dir = try Self.set(playbook: Self.playbook + "? \"\(hostile)\"\n: 1\n")
        let r = try check(dir)
        #expect(r.status == 1)
        #expect(r.stderr.contains("unknown key '\\u{1B}[2J\\u{1B}]0;owned\\u{07}BBB"), "\(r.stderr.prefix(300))")
        #expect(!r.stderr.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
        #expect(r.stderr.utf8.count < 1_000, "\(r.stderr.utf8.count) bytes of diagnostics")
    }

    @Test func versionPrintsTheVersion() throws {
        let r = try runBinary("itvd", ["version"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("itvd "))
    }

    /// `--version`, which the packaging checks and administrators use, on both programs; a subcommand's own
    /// `--version V` option (`itvctl rollout plan APP --version V`) still takes its value.
    @Test func versionFlagsPrintTheRelease() throws {
        let daemon = try runBinary("itvd", ["--version"])
        #expect(daemon.status == 0, "\(daemon.stderr)")
        #expect(daemon.stdout == "itvd \(ITVRelease.version)\n")
        let control = try runBinary("itvctl", ["--version"])
        #expect(control.status == 0, "\(control.stderr)")
        #expect(control.stdout == "itvctl \(ITVRelease.version)\n")
        let plan = try runBinary("itvctl", ["rollout", "plan", "app", "--version", "1.0", "--socket", "/nonexistent"])
        #expect(plan.status == 69, "\(plan.stdout)\(plan.stderr)")
    }
}
