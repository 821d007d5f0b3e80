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

        let stop = try runScript("scripts/demo-stop.sh", [], environment: env)
        #expect(stop.status == 0)
        let left = try runBinaryAt("/usr/bin/pgrep", ["-f", demo])
        #expect(left.stdout == "", "processes of the demo still running: \(left.stdout)")
    }
}

func runScript(_ script: String, _ arguments: [String], environment: [String: String]) throws -> RunResult {
    try runBinaryAt("/bin/bash", [repositoryRoot + "/" + script] + arguments, environment: environment)
}

/// Runs a program to completion with posix_spawn and waitpid, its output in files. (Foundation's Process
/// did not reap a script that left daemons running behind it.)
func runBinaryAt(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> RunResult {
    let dir = try TempDir()
    let outPath = dir.path + "/stdout"
    let errPath = dir.path + "/stderr"
    var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        argv.forEach { free($0) }
        env.forEach { free($0) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, nil, argv, env)
    guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    let exited = (status & 0x7f) == 0
    return RunResult(
        status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f),
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}
