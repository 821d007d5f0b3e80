import Foundation
import ITVEngine
import ITVSSH
import ITVTestSupport
import Logging
import Testing

@Suite("Host keys are checked against known_hosts the way OpenSSH does it")
struct HostKeyTests {
    @Test("a changed host key on one host of ten is a mismatch with both fingerprints, logged at critical; nine ok")
    func oneWrongKeyOfTen() async throws {
        try await Fleet.with(10) { fleet in
            let pinned = try fleet.hostKeyFingerprint(7)
            try fleet.switchHost(7, "hostkey")
            let presented = try fleet.hostKeyFingerprint(7)
            #expect(pinned != presented)
            let records = LogRecords()
            let logger = Logger(label: "test") { _ in RecordingLogHandler(records: records) }
            let executor = LibSSH2Executor(configuration: fleet.configuration(), logger: logger)
            let outcomes = await withTaskGroup(of: (Int, CommandOutcome).self) { group in
                for i in 1...10 {
                    group.addTask { (i, await executor.run("true", on: fleet.host(i), timeout: .seconds(30))) }
                }
                var all: [Int: CommandOutcome] = [:]
                for await (i, outcome) in group { all[i] = outcome }
                return all
            }
            for i in 1...10 where i != 7 {
                // Host 3 listens on port 2222 (`[addr]:2222` entry), host 4 has a hashed entry.
                #expect(outcomes[i]?.kind == "ok", "host \(i): \(String(describing: outcomes[i]))")
            }
            #expect(outcomes[7] == .hostkeyMismatch(expected: pinned, presented: presented))
            let critical = records.withLock { $0.filter { $0.level == .critical } }
            #expect(critical.count == 1)
            #expect(critical.first?.metadata["host"] == "fleet-007")
            #expect(critical.first?.metadata["event"] == "hostkey.mismatch")
            #expect(critical.first?.message.contains(pinned) == true)
            #expect(critical.first?.message.contains(presented) == true)
        }
    }

    @Test("a host missing from known_hosts is refused before authentication")
    func unknownHostRefusedBeforeAuthentication() async throws {
        try await Fleet.with(2) { fleet in
            let knownHosts = try String(contentsOfFile: fleet.knownHosts, encoding: .utf8)
            let withoutFirst = knownHosts.split(separator: "\n").filter { !$0.hasPrefix("\(fleet.base).1 ") }
            let file = fleet.dir + "/known_hosts.partial"
            try (withoutFirst.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
            let executor = LibSSH2Executor(configuration: fleet.configuration(knownHosts: file))
            let outcome = await executor.run("true", on: fleet.host(1), timeout: .seconds(30))
            guard case .hostkeyUnknown(let message) = outcome else {
                Issue.record("expected hostkey_unknown, got \(outcome)")
                return
            }
            #expect(message.contains(try fleet.hostKeyFingerprint(1)))
            // The other host, still pinned, works; the refused one never saw a key offered.
            #expect(await executor.run("true", on: fleet.host(2), timeout: .seconds(30)).kind == "ok")
            try await Task.sleep(for: .milliseconds(300))
            #expect(fleet.sshdLog(1).contains("Connection closed by") || fleet.sshdLog(1).contains("Disconnected from"))
            #expect(!fleet.sshdLog(1).contains("publickey"))
            #expect(fleet.sshdLog(2).contains("Accepted publickey"))
        }
    }

    @Test("a non-22 port is looked up only as [host]:port, never as the bare address")
    func nonDefaultPortUsesBracketedName() async throws {
        try await Fleet.with(3) { fleet in
            let host = fleet.host(3)
            #expect(host.port == 2222)
            let right = try publicKey(fleet, 3)
            let wrong = try publicKey(fleet, 1)
            let executor = { (lines: [String]) -> LibSSH2Executor in
                let file = fleet.dir + "/kh-\(UUID().uuidString)"
                try? (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
                return LibSSH2Executor(configuration: fleet.configuration(knownHosts: file))
            }
            // The bare address with the right key does not pin [addr]:2222 (libssh2's checkp would accept it).
            let bareOnly = await executor(["\(host.address) \(right)"]).run("true", on: host, timeout: .seconds(30))
            #expect(bareOnly.kind == "hostkey_unknown")
            let wrongBracketed = await executor(["[\(host.address)]:2222 \(wrong)", "\(host.address) \(right)"])
                .run("true", on: host, timeout: .seconds(30))
            #expect(wrongBracketed.kind == "hostkey_mismatch")
            let rightBracketed = await executor(["\(host.address) \(wrong)", "[\(host.address)]:2222 \(right)"])
                .run("true", on: host, timeout: .seconds(30))
            #expect(rightBracketed.kind == "ok")
        }
    }

    @Test("@cert-authority, @revoked and wildcard lines are not taken as trust")
    func unsupportedLinesAreNotTrust() async throws {
        try await Fleet.with(1) { fleet in
            let host = fleet.host(1)
            let key = try publicKey(fleet, 1)
            for line in [
                "@cert-authority * \(key)", "\(fleet.base).* \(key)", "@revoked \(host.address) \(key)",
                "!10.0.0.1,\(fleet.base).? \(key)",
            ] {
                let file = fleet.dir + "/kh-\(UUID().uuidString)"
                try (line + "\n").write(toFile: file, atomically: true, encoding: .utf8)
                let executor = LibSSH2Executor(configuration: fleet.configuration(knownHosts: file))
                let outcome = await executor.run("true", on: host, timeout: .seconds(30))
                #expect(outcome.kind == "hostkey_unknown", "\(line): \(outcome)")
            }
        }
    }

    @Test("a host the client key is refused on fails authentication")
    func refusedKey() async throws {
        try await Fleet.with(2) { fleet in
            try fleet.switchHost(1, "refuse")
            let executor = LibSSH2Executor(configuration: fleet.configuration())
            #expect(await executor.run("true", on: fleet.host(1), timeout: .seconds(30)).kind == "auth_failed")
            #expect(await executor.run("true", on: fleet.host(2), timeout: .seconds(30)).kind == "ok")
            var wrongUser = fleet.host(2)
            wrongUser.user = "nobody-here"
            #expect(await executor.run("true", on: wrongUser, timeout: .seconds(30)).kind == "auth_failed")
        }
    }

    private func publicKey(_ fleet: Fleet, _ i: Int) throws -> String {
        let text = try String(
            contentsOfFile: "\(fleet.dir)/hosts/\(fleet.name(i))/ssh_host_ed25519_key.pub", encoding: .utf8)
        return text.split(separator: " ").prefix(2).joined(separator: " ")
    }
}

@Suite("Host key type preference and agent authentication")
struct KeyTypeAndAgentTests {
    @Test("a host offering ECDSA and ed25519 is checked against the type known_hosts pins, either one")
    func hostKeyTypeFromKnownHosts() async throws {
        try await Fleet.with(1) { fleet in
            try fleet.switchHost(1, "ecdsa")
            let host = fleet.host(1)
            // known_hosts pins only ed25519: without the method preference libssh2 would negotiate ECDSA.
            let ed25519 = LibSSH2Executor(configuration: fleet.configuration())
            #expect(await ed25519.run("true", on: host, timeout: .seconds(30)).kind == "ok")
            // Only the ECDSA key pinned: negotiated and matched as well.
            let ecdsaKey = try String(
                contentsOfFile: "\(fleet.dir)/hosts/\(fleet.name(1))/ssh_host_ecdsa_key.pub", encoding: .utf8)
            let file = fleet.dir + "/kh-ecdsa"
            let line = "\(host.address) " + ecdsaKey.split(separator: " ").prefix(2).joined(separator: " ")
            try (line + "\n").write(toFile: file, atomically: true, encoding: .utf8)
            let ecdsa = LibSSH2Executor(configuration: fleet.configuration(knownHosts: file))
            #expect(await ecdsa.run("true", on: host, timeout: .seconds(30)).kind == "ok")
        }
    }

    @Test("without an identity file the key comes from ssh-agent")
    func agentAuthentication() async throws {
        try await Fleet.with(1) { fleet in
            let socket = fleet.dir + "/agent.sock"
            let agent = Process()
            agent.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-agent")
            agent.arguments = ["-D", "-a", socket]
            agent.standardOutput = FileHandle.nullDevice
            try agent.run()
            defer {
                kill(agent.processIdentifier, SIGKILL)
                agent.waitUntilExit()
            }
            var configuration = fleet.configuration()
            configuration.identityFile = nil
            configuration.agentSocket = socket
            let executor = LibSSH2Executor(configuration: configuration)
            for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) {
                try await Task.sleep(for: .milliseconds(100))
            }
            // An empty agent has no key the host accepts.
            #expect(await executor.run("true", on: fleet.host(1), timeout: .seconds(30)).kind == "auth_failed")
            let add = Process()
            add.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-add")
            add.arguments = ["-q", fleet.identity]
            add.environment = ["SSH_AUTH_SOCK": socket]
            try add.run()
            add.waitUntilExit()
            #expect(add.terminationStatus == 0)
            #expect(await executor.run("true", on: fleet.host(1), timeout: .seconds(30)).kind == "ok")
        }
    }
}
