import Foundation
import Testing

/// The built itvd with an inventory read from a real slapd: read at start, on reload, and the last good
/// inventory kept (and the problem shown) while the directory is down.
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
    }

    @Test("reload with the directory down keeps the last good inventory and reports why; back up, it reads again")
    func reloadKeepsLastGood() async throws {
        let directory = try LDAPDirectory(["--computers", "800"])
        try await E2EDaemon.with(configuration: { itvd in
            try FileManager.default.createDirectory(atPath: itvd.dir + "/pb", withIntermediateDirectories: true)
            let key = try runProgram("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", itvd.dir + "/id"])
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
        }) { itvd in
            let started = try e2eDecode(Status.self, try itvd.ok(["--json", "status"]))
            #expect(started.hosts == 800)
            #expect(started.tenants == 2)
            #expect(started.problems.isEmpty)

            directory.stop()
            let refused = try itvd.ctl(["--json", "reload"])
            #expect(refused.status == 1)
            let answer = try e2eDecode(Reload.self, refused.stdout)
            #expect(!answer.ok)
            #expect(answer.hosts == 800)
            #expect(answer.problems.contains { $0.contains("ldap source 'gemeinden': cannot reach the directory") })
            let down = try e2eDecode(Status.self, try itvd.ok(["--json", "status"]))
            #expect(down.hosts == 800)
            #expect(down.lastReloadAt != nil)
            #expect(down.problems.contains { $0.contains("cannot reach the directory") }, "\(down.problems)")
            let human = try itvd.ok(["status"])
            #expect(human.contains("problems (the last good playbooks and inventory keep running):"))
            #expect(itvd.logTail(20_000).contains("reload.failed"))
            #expect(try itvd.ok(["--json", "host", "list"]).contains("egl-pc-001"))

            try directory.start()
            try directory.delete("cn=EGL-PC-001,ou=Verwaltung,ou=Egling,ou=Gemeinden,dc=coop,dc=test")
            let reloaded = try e2eDecode(Reload.self, try itvd.ok(["--json", "reload"]))
            #expect(reloaded.ok && reloaded.hosts == 799)
            let up = try e2eDecode(Status.self, try itvd.ok(["--json", "status"]))
            #expect(up.hosts == 799)
            #expect(up.problems.isEmpty)
        }
    }
}
