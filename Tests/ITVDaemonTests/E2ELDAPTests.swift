import Foundation
import Testing

/// The built itvd with an inventory read from a real slapd: read at start, on reload, and the last good
/// directory read kept (and the problem shown) while the directory is down, at reload and at a restart.
@Suite("E2E: itvd with an ldap: inventory source", .serialized)
struct E2ELDAPTests {
    struct Status: Decodable {
        var hosts: Int
        var tenants: Int
        var problems: [String]
        var lastReloadAt: Int64?
    }
    struct Reload: Decodable {
        var ok: Bool
        var hosts: Int
        var problems: [String]
        var warnings: [String]?
    }

    @Test(
        "the directory down: reload and a restart run with the hosts read last and say so; back up, it reads again")
    func directoryDownUsesTheKeptRead() async throws {
        let directory = try LDAPDirectory(["--computers", "800"])
        try await E2EDaemon.with(
            configuration: { itvd in
                try FileManager.default.createDirectory(atPath: itvd.dir + "/pb", withIntermediateDirectories: true)
                let key = try runProgram(
                    "/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", itvd.dir + "/id"])
                guard key.status == 0 else { throw E2EFailure(description: "ssh-keygen: \(key.stderr)") }
                _ = FileManager.default.createFile(atPath: itvd.dir + "/known_hosts", contents: Data())
                let inventory = """
                    tenants:
                      egling: {name: Gemeinde Egling}
                      icking: {name: Gemeinde Icking}
                    ldap:
                    \(directory.source("gemeinden", base: "ou=Gemeinden,dc=coop,dc=test", extra: ["tenant_from_ou: true"]))

                    """
                try Data(inventory.utf8).write(to: URL(fileURLWithPath: itvd.inventory))
                let config = """
                    playbooks: pb
                    inventory: inventory.yaml
                    state: state
                    socket: run/itvd.sock
                    ssh: {identity: id, known_hosts: known_hosts, connect_timeout: 5s}
                    operators: [root]
                    readers: [root]

                    """
                try Data(config.utf8).write(to: URL(fileURLWithPath: itvd.config))
            }, environment: ["ITVD_DIRECTORY_RETRY_SECONDS": "1"]
        ) { itvd in
            let started = try e2eDecode(Status.self, try itvd.ok(["--json", "status"]))
            #expect(started.hosts == 800)
            #expect(started.tenants == 2)
            #expect(started.problems.isEmpty)
            // The read is kept in the state directory, for the itvd user alone.
            let kept = itvd.dir + "/state/directory/gemeinden.json"
            let attributes = try FileManager.default.attributesOfItem(atPath: kept)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            let folder = try FileManager.default.attributesOfItem(atPath: itvd.dir + "/state/directory")
            #expect((folder[.posixPermissions] as? NSNumber)?.intValue == 0o700)

            directory.stop()
            // A reload while the directory is down: done, with the kept read, and said.
            let answer = try e2eDecode(Reload.self, try itvd.ok(["--json", "reload"]))
            #expect(answer.ok && answer.hosts == 800)
            #expect(
                answer.warnings?.contains {
                    $0.contains("ldap source 'gemeinden': cannot reach the directory")
                        && $0.contains("using the 800 entries read at")
                } == true, "\(answer)")
            #expect(try itvd.ok(["reload"]).contains("warning: "))
            let down = try e2eDecode(Status.self, try itvd.ok(["--json", "status"]))
            #expect(down.hosts == 800)
            #expect(down.lastReloadAt != nil)
            #expect(down.problems.contains { $0.contains("using the 800 entries read at") }, "\(down.problems)")
            #expect(itvd.logTail(20_000).contains("inventory.stale"))

            // A restart while it is down (a boot before the domain controller): itvd starts with the kept read.
            itvd.stop()
            try await itvd.start()
            let restarted = try e2eDecode(Status.self, try itvd.ok(["--json", "status"]))
            #expect(restarted.hosts == 800 && restarted.tenants == 2)
            #expect(restarted.problems.contains { $0.contains("cannot reach the directory") }, "\(restarted.problems)")
            #expect(try itvd.ok(["--json", "host", "list"]).contains("egl-pc-001"))

            // An operator edits the inventory meanwhile: itvd does not re-read it by itself (it says so, once).
            let original = try Data(contentsOf: URL(fileURLWithPath: itvd.inventory))
            try (original + Data("# being edited\n".utf8)).write(to: URL(fileURLWithPath: itvd.inventory))
            #expect(await eventually(timeout: .seconds(60)) { itvd.logTail(20_000).contains("not re-read by itself") })
            try original.write(to: URL(fileURLWithPath: itvd.inventory))

            // The directory answers again (one computer fewer): itvd notices by itself, within its retry interval
            // (1 s here, 5 minutes by default), reloads with the fresh read and the warning goes.
            try directory.start()
            try directory.delete("cn=EGL-PC-001,ou=Verwaltung,ou=Egling,ou=Gemeinden,dc=coop,dc=test")
            var up = try e2eDecode(Status.self, try itvd.ok(["--json", "status"]))
            #expect(
                try await eventually(timeout: .seconds(60)) {
                    up = try e2eDecode(Status.self, try itvd.ok(["--json", "status"]))
                    return up.problems.isEmpty
                }, "\(up.problems)")
            #expect(up.hosts == 799)
            #expect(itvd.logTail(20_000).contains("a directory answers again"))
            let reloaded = try e2eDecode(Reload.self, try itvd.ok(["--json", "reload"]))
            #expect(reloaded.ok && reloaded.hosts == 799 && reloaded.warnings == nil)
            // The fresh read replaced the kept one.
            let file = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: kept)))
            let read = (file as? [String: Any])?["read"] as? [String: Any]
            #expect((read?["entries"] as? [Any])?.count == 799)
        }
    }
}
