import Foundation
import ITVEngine
import ITVSSH
import Testing

@Suite("Commands over libssh2 against a real sshd")
struct CommandTests {
    @Test("stdout and stderr stay apart, exit codes and signals come back, several commands share a session")
    func streamsExitCodesAndSignals() async throws {
        try await Fleet.with(1) { fleet in
            let executor = LibSSH2Executor(configuration: fleet.configuration())
            let session = try await executor.connect(to: fleet.host(1)).get()
            let first = await session.run("echo out; echo err >&2; exit 3", timeout: .seconds(30))
            guard case .ok(let exit, let stdout, let stderr, _) = first else {
                Issue.record("expected ok, got \(first)")
                return
            }
            #expect(exit == 3)
            #expect(stdout.text == "out\n")
            #expect(stderr.text == "err\n")
            let host = await session.run(
                "hostname; cat /proc/self/mountinfo | grep -c ' /opt/itv-host '", timeout: .seconds(30))
            guard case .ok(0, let hostOut, _, _) = host else {
                Issue.record("expected ok, got \(host)")
                return
            }
            #expect(hostOut.text == "fleet-001\n1\n")
            let killed = await session.run("echo before; kill -TERM $$", timeout: .seconds(30))
            guard case .killedBySignal(let signal, let killedOut, _) = killed else {
                Issue.record("expected killed_by_signal, got \(killed)")
                return
            }
            #expect(signal == "TERM")
            #expect(killedOut.text == "before\n")
            await session.close()
        }
    }

    @Test("a command with quotes, variables and newlines reaches the remote shell unchanged")
    func quoting() async throws {
        try await Fleet.with(1) { fleet in
            let executor = LibSSH2Executor(configuration: fleet.configuration())
            let command = "printf '%s|' \"it's\" '$HOME' \"a\\\"b\"\necho; echo \"$((6 * 7))\""
            let outcome = await executor.run(command, on: fleet.host(1), timeout: .seconds(30))
            guard case .ok(0, let stdout, _, _) = outcome else {
                Issue.record("expected ok, got \(outcome)")
                return
            }
            #expect(stdout.text == "it's|$HOME|a\"b|\n42\n")
        }
    }

    @Test("Windows commands go as a PowerShell -EncodedCommand; Linux ones wrapped in timeout(1) with exec")
    func wrapper() {
        // "cmd /c exit 0" in UTF-16LE, base64 (as `[Convert]::ToBase64String([Text.Encoding]::Unicode...)`).
        #expect(
            CommandWrapper.wrap("cmd /c exit 0", os: .windows, timeout: .seconds(30), killAfter: .seconds(5))
                == "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "
                + "YwBtAGQAIAAvAGMAIABlAHgAaQB0ACAAMAA=")
        // Beyond the BMP: a surrogate pair, low byte first in each unit.
        let encoded = CommandWrapper.powershellEncoded("\"ä\" $x 😀")
        let base64 = String(encoded.split(separator: " ").last ?? "")
        let bytes = [UInt8](Data(base64Encoded: base64) ?? Data())
        #expect(bytes == [0x22, 0, 0xE4, 0, 0x22, 0, 0x20, 0, 0x24, 0, 0x78, 0, 0x20, 0, 0x3D, 0xD8, 0x00, 0xDE])
        #expect(
            CommandWrapper.wrap("echo 'x'", os: .linux, timeout: .seconds(30), killAfter: .seconds(5))
                == "exec timeout --kill-after=5s 31s sh -c 'echo '\\''x'\\'''")
    }
}
