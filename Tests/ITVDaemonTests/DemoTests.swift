import Foundation
import Testing

/// `make demo`'s scripted walkthrough, run non-interactively: it must end with every host on 1.1.0 (the
/// first release rolled out, the second one rolled back), and `make demo-stop` must stop all it started.
@Suite(.serialized) struct DemoTests {
    @Test func theDemoWalkthroughEndsWithTheExpectedVersions() throws {
        let dir = try TempDir()
        let demo = dir.path + "/demo"
        var env = ProcessInfo.processInfo.environment
        env["DEMO_DIR"] = demo
        env["DEMO_BASE"] = "127.0.95"
        env["DEMO_PAUSE"] = "0"
        defer { _ = try? runScript("scripts/demo-stop.sh", [], environment: env) }
        let run = try runScript("scripts/demo.sh", [binDir], environment: env)
        #expect(run.status == 0, "\(run.stdout.suffix(3000))\n\(run.stderr.suffix(2000))")
        for i in 1...12 {
            let root = demo + String(format: "/fleet/hosts/fleet-%03d/root/apps/", i)
            let version = (try? String(contentsOfFile: root + "fachverfahren", encoding: .utf8)) ?? ""
            #expect(version == "1.1.0\n", "host \(i) runs \(version)")
        }
        // The broken host got 1.2.0 once (failed) and was rolled back to its own previous version.
        let ledger =
            (try? String(
                contentsOfFile: demo + "/fleet/hosts/fleet-003/root/apps/fachverfahren.ledger", encoding: .utf8)) ?? ""
        let lines = ledger.split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
        #expect(lines == ["install 1.1.0", "install 1.2.0", "rollback 1.1.0"])
        #expect(run.stdout.contains("rollout 2: rolled back"))
        // The operators' chat (a real HTTPS webhook receiver) heard that the pilot wave waits, with the command.
        #expect(run.stdout.contains("webhook: wave.waiting: fachverfahren 1.1.0: wave 2"), "\(run.stdout)")
        #expect(run.stdout.contains("waits for approval"))
        #expect(run.stdout.contains("webhook:   itvctl rollout approve 1\n"))
        #expect(run.stdout.contains("webhook: rollout.halted: fachverfahren 1.2.0"))
        #expect(run.stdout.contains("itv_rollouts{phase=\"halted\"} 1"))
        // The switched-off workstation was woken (a valid 102-byte magic packet for its MAC), deferred, caught up.
        #expect(
            run.stdout.contains("wol: 102-byte magic packet for 52:54:00:00:00:08 (valid): ff ff ff ff ff ff 52 54"),
            "\(run.stdout)")
        #expect(
            run.stdout.contains("not reached: 0 deferred, 0 unreached; Wake-on-LAN packets sent: "), "\(run.stdout)")
        #expect(run.stdout.contains("wol: fleet-008 is up"))
        // The plan names the installer's bytes; the tampered release 1.3.0 is refused and shown rejected.
        let installer = try Data(contentsOf: URL(fileURLWithPath: demo + "/feed/dl/fachverfahren-1.1.0.tar.gz"))
        #expect(run.stdout.contains("artifact: fachverfahren-1.1.0.tar.gz, \(installer.count) bytes, sha256 "))
        // itvctl prints the refusal on stderr.
        #expect(
            run.stderr.contains("artifact_rejected: release 1.3.0 of fachverfahren is rejected"),
            "\(run.stdout.suffix(3000))\n\(run.stderr.suffix(2000))")
        #expect(run.stdout.contains("REJECTED (checksum_mismatch)"))
        #expect(run.stdout.contains("CRITICAL release 1.3.0 of fachverfahren is rejected"))
        #expect(run.stdout.contains("ITV_EVENT=artifact.rejected"))
        #expect(run.stdout.contains("webhook: artifact.rejected: release 1.3.0 of fachverfahren is rejected"))
        #expect(run.stdout.contains("webhook:   itvctl artifact list --procedure fachverfahren\n"))
        // The cache as itvctl shows it: the two verified installers, kept as the newest; 1.3.0 rejected.
        #expect(run.stdout.contains("sha256sum    cached, kept: newest 3"), "\(run.stdout)")
        #expect(run.stdout.contains("1.3.0    -         -                 -            REJECTED (checksum_mismatch)"))
        #expect(!run.stdout.contains("rollout 3"), "nothing was planned for the tampered release")
        let cached = try FileManager.default.contentsOfDirectory(atPath: demo + "/state/artifacts/sha256")
        #expect(cached.count == 2, "the installers of 1.1.0 and 1.2.0, nothing of 1.3.0: \(cached)")

        let stop = try runScript("scripts/demo-stop.sh", [], environment: env)
        #expect(stop.status == 0)
        let left = try runBinaryAt("/usr/bin/pgrep", ["-f", demo])
        #expect(left.stdout == "", "processes of the demo still running: \(left.stdout)")
    }
}

func runScript(_ script: String, _ arguments: [String], environment: [String: String]) throws -> RunResult {
    try runBinaryAt("/bin/bash", [repositoryRoot + "/" + script] + arguments, environment: environment)
}

/// Runs a program to completion with posix_spawn and waitpid, its output in files (ITVTestSupport's child
/// runner: Foundation's Process did not reap a script that left daemons running behind it).
func runBinaryAt(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> RunResult {
    try runChild(path, arguments, environment: environment)
}
