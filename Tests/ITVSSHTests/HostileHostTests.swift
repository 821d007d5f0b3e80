import Foundation
import ITVEngine
import ITVSSH
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Memory figures of this process from /proc/self/status (`VmRSS`, `VmHWM`), in bytes.
func residentBytes(_ field: String) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
        let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    else { return 0 }
    return kib * 1024
}

/// Resets the peak resident memory mark to the current size and returns that size. getrusage's ru_maxrss
/// cannot be used: it keeps the peak of the process that spawned the test runner (recorded at exec), which
/// is far above anything this test does.
func resetPeakResident() -> Int {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    return residentBytes("VmRSS")
}

@Suite("A hostile host costs bounded memory and time and does not affect the others")
struct HostileHostTests {
    @Test("50 MB of output keeps 1 MiB, counts the rest, and does not grow memory by 50 MB")
    func floodStaysWithinCap() async throws {
        try await Fleet.with(1) { fleet in
            try fleet.switchHost(1, "flood")
            let before = resetPeakResident()
            let executor = LibSSH2Executor(configuration: fleet.configuration())
            let outcome = await executor.run("echo done >&2", on: fleet.host(1), timeout: .seconds(120))
            let growth = residentBytes("VmHWM") - before
            guard case .ok(0, let stdout, let stderr, _) = outcome else {
                Issue.record("expected ok, got \(outcome.kind)")
                return
            }
            #expect(stdout.bytes.count == 1 << 20)
            #expect(stdout.droppedBytes == 52_428_800 - (1 << 20))
            #expect(stderr.text == "done\n")
            // Keeping the whole output would add at least 50 MB; the margin leaves room for other tests that
            // run in the same process at the same time.
            #expect(growth < 30 << 20, "max RSS grew by \(growth) bytes")
            print("flood: max RSS grew by \(growth / 1024) KiB while 50 MB arrived")
        }
    }

    @Test("both streams beyond the channel window are read without deadlock, each capped on its own")
    func bothStreamsBeyondWindow() async throws {
        try await Fleet.with(1) { fleet in
            let executor = LibSSH2Executor(configuration: fleet.configuration(outputCap: 100_000))
            let command = "head -c 3000000 /dev/zero >&2; head -c 3000000 /dev/zero; echo tail >&2"
            let outcome = await executor.run(command, on: fleet.host(1), timeout: .seconds(120))
            guard case .ok(0, let stdout, let stderr, _) = outcome else {
                Issue.record("expected ok, got \(outcome)")
                return
            }
            #expect(stdout.bytes.count == 100_000)
            #expect(stdout.droppedBytes == 2_900_000)
            #expect(stderr.bytes.count == 100_000)
            #expect(stderr.droppedBytes == 2_900_005)
        }
    }

    @Test("terminal escape sequences arrive as plain bytes in the captured output")
    func escapeSequencesAreData() async throws {
        try await Fleet.with(1) { fleet in
            try fleet.switchHost(1, "escape")
            let executor = LibSSH2Executor(configuration: fleet.configuration())
            let outcome = await executor.run("echo fine", on: fleet.host(1), timeout: .seconds(30))
            guard case .ok(0, let stdout, let stderr, _) = outcome else {
                Issue.record("expected ok, got \(outcome.kind)")
                return
            }
            #expect(stdout.bytes.contains(0x1b))
            #expect(stderr.bytes.contains(0x1b))
            #expect(stdout.text.hasSuffix("fine\n"))
        }
    }

    @Test("a host that accepts TCP but never answers fails at the connect deadline while the others finish")
    func hangingHostFailsAtDeadline() async throws {
        try await Fleet.with(5) { fleet in
            try fleet.switchHost(2, "hang")
            defer { try? fleet.switchHost(2, "hang", "off") }
            let executor = LibSSH2Executor(configuration: fleet.configuration(connectTimeout: .seconds(3)))
            let clock = ContinuousClock()
            let results = await withTaskGroup(of: (Int, CommandOutcome, Duration).self) { group in
                for i in 1...5 {
                    group.addTask {
                        let start = clock.now
                        let outcome = await executor.run("true", on: fleet.host(i), timeout: .seconds(30))
                        return (i, outcome, clock.now - start)
                    }
                }
                var all: [Int: (CommandOutcome, Duration)] = [:]
                for await (i, outcome, took) in group { all[i] = (outcome, took) }
                return all
            }
            for i in [1, 3, 4, 5] {
                #expect(results[i]?.0.kind == "ok", "host \(i): \(String(describing: results[i]))")
            }
            #expect(results[2]?.0.kind == "timeout")
            if let took = results[2]?.1 {
                #expect(took >= .seconds(3))
                #expect(took < .seconds(30))
            }
        }
    }

    @Test("a command past its deadline times out, the connection is dropped and the remote command stopped")
    func commandDeadline() async throws {
        try await Fleet.with(1) { fleet in
            let executor = LibSSH2Executor(configuration: fleet.configuration())
            let clock = ContinuousClock()
            let start = clock.now
            let outcome = await executor.run("echo started; sleep 4242", on: fleet.host(1), timeout: .seconds(2))
            #expect(outcome.kind == "timeout")
            #expect(clock.now - start < .seconds(30))
            // timeout(1) on the host stops `sleep 4242` soon after; poll for it with a generous deadline.
            var gone = false
            for _ in 0..<60 where !gone {
                let check = await executor.run("pgrep -f 'sleep [4]242'", on: fleet.host(1), timeout: .seconds(30))
                if case .ok(1, _, _, _) = check { gone = true } else { try await Task.sleep(for: .milliseconds(500)) }
            }
            #expect(gone)
        }
    }

    @Test("a connection dropped mid-command is reported as no exit status, not hung on")
    func droppedMidCommand() async throws {
        try await Fleet.with(2) { fleet in
            try fleet.switchHost(1, "drop")
            let executor = LibSSH2Executor(configuration: fleet.configuration())
            let clock = ContinuousClock()
            let start = clock.now
            let outcome = await executor.run("echo never", on: fleet.host(1), timeout: .seconds(120))
            #expect(outcome.kind == "no_exit_status", "\(outcome)")
            #expect(clock.now - start < .seconds(60))
            #expect(await executor.run("true", on: fleet.host(2), timeout: .seconds(30)).kind == "ok")
        }
    }

    @Test("nothing listening is connect_failed; a non-SSH speaker is protocol_error")
    func connectFailedAndProtocolError() async throws {
        try await Fleet.with(1) { fleet in
            let executor = LibSSH2Executor(configuration: fleet.configuration(connectTimeout: .seconds(10)))
            let nobody = RemoteHost(name: "nobody", address: "\(fleet.base).250", port: 22, user: "root")
            #expect(await executor.run("true", on: nobody, timeout: .seconds(10)).kind == "connect_failed")
            // A listener that answers like a web server, then closes.
            let speaker = Process()
            speaker.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            speaker.arguments = [
                "-c",
                """
                import socket
                s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(('\(fleet.base).251', 22)); s.listen(8); print('ready', flush=True)
                while True:
                    c, _ = s.accept(); c.sendall(b'HTTP/1.0 400 Bad Request\\r\\n\\r\\n'); c.close()
                """,
            ]
            let pipe = Pipe()
            speaker.standardOutput = pipe
            try speaker.run()
            defer {
                // KILL: the test process's threads block TERM, and children inherit that signal mask.
                kill(speaker.processIdentifier, SIGKILL)
                speaker.waitUntilExit()
            }
            _ = pipe.fileHandleForReading.availableData  // "ready"
            let web = RemoteHost(name: "web", address: "\(fleet.base).251", port: 22, user: "root")
            let outcome = await executor.run("true", on: web, timeout: .seconds(10))
            #expect(outcome.kind == "protocol_error", "\(outcome)")
        }
    }

    @Test("the global cap bounds concurrent sessions")
    func globalCap() async throws {
        try await Fleet.with(6) { fleet in
            let executor = LibSSH2Executor(configuration: fleet.configuration(parallel: 2))
            let clock = ContinuousClock()
            let start = clock.now
            let kinds = await withTaskGroup(of: String.self) { group in
                for i in 1...6 {
                    group.addTask { await executor.run("sleep 1", on: fleet.host(i), timeout: .seconds(60)).kind }
                }
                var all: [String] = []
                for await kind in group { all.append(kind) }
                return all
            }
            #expect(kinds == Array(repeating: "ok", count: 6))
            // Six one-second commands, two at a time: at least three seconds.
            #expect(clock.now - start >= .seconds(3))
        }
    }
}
