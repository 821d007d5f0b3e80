import Foundation
import ITVDaemon
import Testing

/// `itvd check` as an operator runs it: the built binary, its output and exit code.
@Suite struct CheckCommandTests {
    @Test func theRepositoryExamplesAreClean() throws {
        let r = try runBinary("itvd", ["check", "--config", repositoryRoot + "/examples/itvd.yaml"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr == "")
        #expect(r.stdout.hasPrefix("ok: 14 playbooks, 13 hosts, 2 tenants, 2 windows"))
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
        #expect(daemon.stdout == "itvd \(ITVBuild.version)\n")
        let control = try runBinary("itvctl", ["--version"])
        #expect(control.status == 0, "\(control.stderr)")
        #expect(control.stdout == "itvctl \(ITVBuild.version)\n")
        let plan = try runBinary("itvctl", ["rollout", "plan", "app", "--version", "1.0", "--socket", "/nonexistent"])
        #expect(plan.status == 69, "\(plan.stdout)\(plan.stderr)")
    }
}
