import Foundation
import ITVProtocol
import Testing

@Suite("itvctl commands against the socket")
struct CommandTests {
    @Test("every route has a command in the test table")
    func everyRouteCovered() {
        #expect(Set(everyCommand.map(\.route)) == Set(Route.allCases))
    }

    @Test("every command's --json output is one JSON document with the documented fields")
    func jsonOutput() async throws {
        try await withServer { _, socket in
            for command in everyCommand {
                let result = try await itvctl(["--json"] + command.arguments, socket: socket)
                #expect(result.status == command.successExit, "\(command): \(result.stderr)")
                let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
                #expect(object != nil, "\(command): not a JSON object: \(result.stdout)")
                for key in command.keys {
                    #expect(object?[key] != nil, "\(command): no \(key) in \(result.stdout)")
                }
            }
        }
    }

    @Test("human output of every command succeeds and prints something")
    func humanOutput() async throws {
        try await withServer { _, socket in
            for command in everyCommand {
                let result = try await itvctl(command.arguments, socket: socket)
                #expect(result.status == command.successExit, "\(command): \(result.stderr)")
                #expect(!result.stdout.isEmpty, "\(command)")
            }
        }
    }

    @Test("tables are aligned and control characters from feeds are escaped")
    func escaping() async throws {
        try await withServer { _, socket in
            let result = try await itvctl(["release", "list"], socket: socket)
            #expect(!result.stdout.contains("\u{1b}"))
            #expect(result.stdout.contains("1.0\\u{1B}[2J"))
            let lines = result.stdout.split(separator: "\n")
            let column = lines[0].range(of: "FIRST SEEN")?.lowerBound.utf16Offset(in: lines[0])
            for line in lines.dropFirst() {
                #expect(line.firstRange(of: "20")?.lowerBound.utf16Offset(in: line) == column, "\(line)")
            }
        }
    }

    @Test("rollout plan shows each wave with its hosts and the plan hash")
    func plan() async throws {
        try await withServer { _, socket in
            let result = try await itvctl(["rollout", "plan", "firefox-esr"], socket: socket)
            #expect(result.stdout.contains("plan hash: \(FakeControlService.planHash)"))
            #expect(result.stdout.contains("wave 1 canary (auto): 1 hosts"))
            #expect(result.stdout.contains("wave 2 pilot (operator x2, bake 2h): 2 hosts"))
            #expect(result.stdout.contains("ws-fin-01"))
        }
    }

    @Test("rollout approve shows the wave, its hosts and the plan hash, and sends that hash")
    func approve() async throws {
        let service = FakeControlService()
        try await withServer(service) { _, socket in
            let result = try await itvctl(["rollout", "approve", "12"], socket: socket)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("wave 2 pilot"))
            #expect(result.stdout.contains("ws-fin-01"))
            #expect(result.stdout.contains("plan hash: \(FakeControlService.planHash)"))
            #expect(result.stdout.contains("approved by root"))
            #expect(service.calls(.rolloutApprove) == 1)
            // A rollout that waits for nothing is refused before anything is sent.
            let done = try await itvctl(["rollout", "approve", "13"], socket: socket)
            #expect(done.status == 1)
            #expect(done.stderr.contains("no wave waiting for approval"))
            #expect(service.calls(.rolloutApprove) == 1)
        }
    }

    @Test("an approval for a plan that changed is refused with plan_changed")
    func planChanged() async throws {
        try await withServer { _, socket in
            let body = #"{"wave":1,"plan_hash":"0000","comment":"seen an old plan"}"#
            let response = try await rawRequest(
                socket,
                "POST /v1/rollouts/12/approve HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
            #expect(response.status == 409)
            #expect(response.errorKind == "plan_changed")
        }
    }

    @Test("a second approval by the same user prints already_approved and exits 1; --json has the kind")
    func alreadyApproved() async throws {
        let service = FakeControlService()
        try await withServer(service) { _, socket in
            let first = try await itvctl(["rollout", "approve", "12"], socket: socket)
            #expect(first.status == 0, "\(first.stderr)")
            let again = try await itvctl(["rollout", "approve", "12"], socket: socket)
            #expect(again.status == 1)
            #expect(again.stderr.contains("already_approved: root already approved wave 2"), "\(again.stderr)")
            let json = try await itvctl(["--json", "rollout", "approve", "12"], socket: socket)
            #expect(json.status == 1)
            let body = try ITVJSON.decode(ErrorBody.self, from: Data(json.stdout.utf8))
            #expect(body.error.kind == .alreadyApproved)
            #expect(service.calls(.rolloutApprove) == 3)
        }
    }

    @Test("rollout watch exits 0 when the rollout succeeded, 1 when it failed, 2 when it waits for approval")
    func watchExitCodes() async throws {
        try await withServer { _, socket in
            let waiting = try await itvctl(["rollout", "watch", "12"], socket: socket)
            #expect(waiting.status == 2, "\(waiting.stderr)")
            #expect(waiting.stdout.contains("waits for approval"))
            let succeeded = try await itvctl(["rollout", "watch", "13"], socket: socket)
            #expect(succeeded.status == 0, "\(succeeded.stderr)")
            // Without a terminal: one line per event, stopping at the event that ends the watch.
            let lines = succeeded.stdout.split(separator: "\n")
            #expect(lines.count == 4, "\(succeeded.stdout)")
            #expect(lines.last?.hasSuffix("rollout 13: succeeded") == true)
            let failed = try await itvctl(["rollout", "watch", "14"], socket: socket)
            #expect(failed.status == 1)
            #expect(failed.stdout.contains("exit_status: verify exited 1: \\u{1B}]0;pwned\\u{07}"))
            #expect(!failed.stdout.contains("\u{1b}"))
            let missing = try await itvctl(["rollout", "watch", "99"], socket: socket)
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("not_found"))
        }
    }

    @Test("a daemon error prints its kind and exits 1; --json prints the error document")
    func daemonError() async throws {
        try await withServer { _, socket in
            let result = try await itvctl(["rollout", "show", "99"], socket: socket)
            #expect(result.status == 1)
            #expect(result.stderr.contains("not_found: no rollout 99"))
            let json = try await itvctl(["--json", "rollout", "show", "99"], socket: socket)
            let body = try ITVJSON.decode(ErrorBody.self, from: Data(json.stdout.utf8))
            #expect(body.error.kind == .notFound)
        }
    }

    @Test("unreachable daemon exits 69 with a hint; a usage error exits 64")
    func unreachable() async throws {
        let dir = try SocketDir()
        let result = try await itvctl(["status"], socket: dir.socket)
        #expect(result.status == 69)
        #expect(result.stderr.contains("cannot reach itvd at \(dir.socket)"))
        #expect(result.stderr.contains("systemctl status itvd"))
        let usage = try await itvctl(["rollout", "retry", "12"], socket: dir.socket)
        #expect(usage.status == 64)
    }

    @Test("ITV_SOCKET names the socket when --socket is not given")
    func socketFromEnvironment() async throws {
        try await withServer { _, socket in
            let result = try await runChildAsync(binDir + "/itvctl", ["status"], environment: ["ITV_SOCKET": socket])
            #expect(result.status == 0, "\(result.stderr)")
        }
    }

    @Test("a daemon speaking another protocol version is refused with a clear message")
    func protocolMismatch() async throws {
        let dir = try SocketDir()
        let listener = try OneShotServer(
            path: dir.socket,
            response: "HTTP/1.1 200 OK\r\nITV-Protocol: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        let result = try await itvctl(["status"], socket: dir.socket)
        listener.stop()
        #expect(result.status == 1)
        #expect(result.stderr.contains("speaks control protocol 2, this itvctl speaks 1"))
    }
}

@Suite("rollout watch on a terminal")
struct WatchTerminalTests {
    @Test("on a terminal, watch draws a progress bar per wave and redraws in place")
    func terminal() async throws {
        try await withServer { _, socket in
            // `script` gives itvctl a pseudo-terminal and keeps its exit status (-e).
            let result = try await runChildAsync(
                "/usr/bin/script", ["-qec", "\(binDir)/itvctl --socket \(socket) rollout watch 14", "/dev/null"],
                environment: ["PATH": "/usr/bin:/bin", "TERM": "xterm", "TZ": "UTC"])
            #expect(result.status == 1, "\(result.stdout) \(result.stderr)")
            #expect(result.stdout.contains("wave 1 canary"))
            #expect(result.stdout.contains("wave 2 pilot"))
            #expect(result.stdout.contains("[!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!]"))
            #expect(result.stdout.contains("0 done, 1 failed, 0 running, 0 waiting"))
            #expect(result.stdout.contains("ws-it-01: failed - exit_status: verify exited 1: \\u{1B}]0;pwned\\u{07}"))
            // Redrawn in place: the cursor moves up over the previous drawing.
            #expect(result.stdout.contains("\u{1b}[") && result.stdout.contains("F\u{1b}[J"))
            // The host's escape sequence itself never reaches the terminal.
            #expect(!result.stdout.contains("\u{1b}]0;pwned"))
        }
    }
}
