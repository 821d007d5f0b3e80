import Foundation
import ITVCore
import Testing

@testable import ITVPlaybookLoader

/// The inventory's `ldap:` source against a real slapd (Debian's, Active Directory schema, StartTLS with a
/// test CA). Run under the e2e lock: `flock /tmp/itv-e2e.lock swift test --skip-build --filter LDAPSourceTests`.
@Suite("ldap: inventory source against a real slapd", .serialized)
struct LDAPSourceTests {
    static let gemeinden = "ou=Gemeinden,dc=coop,dc=test"

    /// An inventory file with the tenants of the test directory, one host of its own, and `sources`.
    static func inventory(_ dir: TempDir, _ sources: [String], hosts: String? = nil) throws -> String {
        let text = """
            defaults: {user: itv}
            tenants:
              coop: {name: Kooperation}
              egling: {name: Gemeinde Egling}
              icking: {name: Gemeinde Icking}
            hosts:
            \(hosts ?? "  srv-coop-01: {address: 10.0.0.1, tenant: coop, groups: [servers]}")
            ldap:
            \(sources.joined(separator: "\n"))

            """
        return try dir.write("inventory.yaml", text)
    }

    static func messages(_ loaded: Loaded<Inventory>) -> String {
        loaded.diagnostics.map(\.description).joined(separator: "\n")
    }

    @Test("800 computers of two municipalities: hosts, addresses, groups, tenants and OS come out right")
    func seedSize() throws {
        let directory = try LDAPDirectory(["--computers", "800"])
        let dir = try TempDir()
        let file = try Self.inventory(
            dir, [directory.source("gemeinden", base: Self.gemeinden, extra: ["tenant_from_ou: true"])])
        let clock = ContinuousClock()
        let start = clock.now
        let loaded = InventoryLoader.load(file: file)
        let elapsed = clock.now - start
        let inventory = try #require(loaded.value, "\(Self.messages(loaded))")
        print("ldap: 800 computers read and mapped in \(elapsed)")
        #expect(inventory.hosts.count == 801)
        #expect(inventory.hosts.filter { $0.tenant == "egling" }.count == 400)
        #expect(inventory.hosts.filter { $0.tenant == "icking" }.count == 400)
        // Every third computer runs Debian, the others Windows 10 or Windows Server.
        #expect(inventory.hosts.filter { $0.os == .linux }.count == 266 + 1)
        let first = try #require(inventory.host(named: "egl-pc-001"))
        #expect(first.address == "egl-pc-001.egling.coop.test")
        #expect(first.tenant == "egling")
        #expect(first.os == .windows)
        #expect(first.groups == ["egling-verwaltung"])
        #expect(first.user == "itv" && first.port == 22)
        let linux = try #require(inventory.host(named: "ick-pc-002"))
        #expect(linux.os == .linux && linux.tenant == "icking" && linux.groups == ["icking-schule"])
        #expect(inventory.host(named: "srv-coop-01")?.tenant == "coop")
        #expect(inventory.hosts(forTargets: ["egling-schule"]).count == 200)
        // slapd hands out at most 300 entries without paging: all 800 came in pages, over StartTLS.
        #expect(directory.logText.contains("EXT oid=1.3.6.1.4.1.1466.20037"))
        #expect(elapsed < .seconds(60))
    }

    @Test("the directory down: its kept read (800 computers) stands in, said once; never for another search or a no")
    func keptReadStandsIn() throws {
        let directory = try LDAPDirectory(["--computers", "800"])
        let dir = try TempDir()
        let cache = DirectoryCache(stateDirectory: dir.path)
        let tenant = ["tenant_from_ou: true", "timeout: 5s"]
        let file = try Self.inventory(dir, [directory.source("gemeinden", base: Self.gemeinden, extra: tenant)])

        // Up: the fresh read comes with the inventory (only when the caller keeps reads), nothing to warn of.
        let fresh = InventoryLoader.load(file: file, cache: cache)
        let inventory = try #require(fresh.value, "\(Self.messages(fresh))")
        #expect(fresh.warnings.isEmpty)
        #expect(fresh.directoryReads.map(\.source) == ["gemeinden"])
        #expect(fresh.directoryReads.first?.entries.count == 800)
        #expect(InventoryLoader.load(file: file).directoryReads.isEmpty)

        // Down, nothing kept yet: refused as before, saying so.
        directory.stop()
        let nothingKept = InventoryLoader.load(file: file, cache: cache)
        #expect(nothingKept.value == nil)
        #expect(
            Self.messages(nothingKept).contains("(unreachable); the directory's hosts are not read, and no earlier"))

        // Kept, then down: the same hosts, with one warning naming the source, the failure and the read's time.
        #expect(cache.save(fresh.directoryReads).isEmpty)
        let down = InventoryLoader.load(file: file, cache: cache)
        let stale = try #require(down.value, "\(Self.messages(down))")
        #expect(stale.hosts == inventory.hosts)
        #expect(down.directoryReads.isEmpty)
        #expect(down.warnings.count == 1)
        let warning = down.warnings.first?.description ?? ""
        #expect(warning.contains("ldap source 'gemeinden': cannot reach the directory"), "\(warning)")
        #expect(warning.contains("(unreachable); using the 800 entries read at 20"), "\(warning)")
        // itvd check (no cache) still says the directory is down.
        #expect(InventoryLoader.load(file: file).value == nil)

        // Another search (the filter changed): the kept read does not answer it.
        let narrower = try Self.inventory(
            dir,
            [
                directory.source(
                    "gemeinden", base: Self.gemeinden,
                    extra: tenant + ["filter: \"(&(objectClass=computer)(cn=EGL*))\""])
            ])
        let other = InventoryLoader.load(file: narrower, cache: cache)
        #expect(other.value == nil)
        #expect(Self.messages(other).contains("the kept read is of another search"), "\(Self.messages(other))")
        #expect(try Self.inventory(dir, [directory.source("gemeinden", base: Self.gemeinden, extra: tenant)]) == file)

        // A kept read that is damaged, not a file, or larger than the bound is not used, and the reason is said.
        let keptFile = dir.path + "/directory/gemeinden.json"
        let good = try Data(contentsOf: URL(fileURLWithPath: keptFile))
        let hostile: [(String, () throws -> Void)] = [
            (
                "not a read of this source",
                { try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: keptFile)) }
            ),
            (
                "not a read of this source",
                {
                    try Data(
                        String(decoding: good, as: UTF8.self).replacingOccurrences(of: "gemeinden", with: "other").utf8
                    )
                    .write(to: URL(fileURLWithPath: keptFile))
                }
            ),
            (
                "larger than",
                {
                    try FileManager.default.removeItem(atPath: keptFile)
                    _ = FileManager.default.createFile(atPath: keptFile, contents: nil)
                    #expect(truncate(keptFile, off_t(DirectoryCache.maxBytes + 1)) == 0)
                }
            ),
            (
                "not a regular file",
                {
                    try FileManager.default.removeItem(atPath: keptFile)
                    #expect(mkfifo(keptFile, 0o600) == 0)
                }
            ),
        ]
        for (why, damage) in hostile {
            try damage()
            let refused = InventoryLoader.load(file: file, cache: cache)
            #expect(refused.value == nil)
            #expect(Self.messages(refused).contains(why), "\(why): \(Self.messages(refused))")
        }
        try FileManager.default.removeItem(atPath: keptFile)
        #expect(cache.save(fresh.directoryReads).isEmpty)

        // A directory that answers "no" (a wrong password) is not ridden out, even with a matching kept read.
        try directory.start()
        let wrong = try dir.write("wrong.secret", "not-the-password\n")
        chmod(wrong, 0o600)
        let no = InventoryLoader.load(
            file: try Self.inventory(
                dir, [directory.source("gemeinden", base: Self.gemeinden, extra: tenant, password: wrong)]),
            cache: cache)
        #expect(no.value == nil && no.warnings.isEmpty)
        #expect(Self.messages(no).contains("(credentials); the directory's hosts are not read"))

        // Up again: a fresh read, no warning.
        #expect(try Self.inventory(dir, [directory.source("gemeinden", base: Self.gemeinden, extra: tenant)]) == file)
        let again = InventoryLoader.load(file: file, cache: cache)
        #expect(again.value?.hosts == inventory.hosts && again.warnings.isEmpty && again.directoryReads.count == 1)
    }

    @Test("groups from OUs, a fixed tenant, addresses from a DNS domain, SSH user and port per source")
    func otherMappings() throws {
        let directory = try LDAPDirectory()
        let dir = try TempDir()
        let file = try Self.inventory(
            dir,
            [
                directory.source(
                    "egling", base: "ou=Egling," + Self.gemeinden,
                    extra: [
                        "tenant: egling", "groups: ou", "address_domain: egling.example", "user: deploy", "port: 2222",
                        "filter: \"(&(objectClass=computer)(cn=EGL-PC-00*))\"",
                    ]),
                directory.source(
                    "icking", base: "ou=Icking," + Self.gemeinden,
                    extra: ["tenant: icking", "groups: none", "allow_plain: true"]),
            ])
        let loaded = InventoryLoader.load(file: file)
        let inventory = try #require(loaded.value, "\(Self.messages(loaded))")
        let egling = inventory.hosts.filter { $0.tenant == "egling" }
        #expect(egling.count == 9)  // EGL-PC-001 to 009 of 10; 3 of them run Debian
        #expect(egling.filter { $0.os == .windows }.count == 6)
        #expect(egling.allSatisfy { $0.user == "deploy" && $0.port == 2222 })
        let h = try #require(inventory.host(named: "egl-pc-001"))
        #expect(h.address == "egl-pc-001.egling.example")
        #expect(h.groups == ["verwaltung"])
        #expect(inventory.hosts.filter { $0.tenant == "icking" }.count == 10)
        #expect(inventory.host(named: "ick-pc-001")?.groups == [])
    }

    @Test("a filter matching nothing, a wrong password, an unreachable, a hanging or an untrusted server: each says so")
    func errors() throws {
        let directory = try LDAPDirectory(["--duplicate"])
        let dir = try TempDir()
        func problems(_ sources: [String], hosts: String? = nil) throws -> String {
            let loaded = InventoryLoader.load(file: try Self.inventory(dir, sources, hosts: hosts))
            #expect(loaded.value == nil)
            return Self.messages(loaded)
        }
        let tenant = ["tenant_from_ou: true"]

        let nothing = try problems([
            directory.source("gemeinden", base: Self.gemeinden, extra: tenant + ["filter: \"(cn=NO-SUCH-PC*)\""])
        ])
        #expect(nothing.contains("ldap source 'gemeinden': the filter (cn=NO-SUCH-PC*) matches no entry under"))

        let wrong = try dir.write("wrong.secret", "not-the-password\n")
        chmod(wrong, 0o600)
        let password = try problems([
            directory.source("gemeinden", base: Self.gemeinden, extra: tenant, password: wrong)
        ])
        #expect(password.contains("bind as cn=itvd,ou=Service,dc=coop,dc=test refused: wrong bind_dn or password"))
        #expect(password.contains("(credentials)"))

        let port = LDAPDirectory.closedPort()
        let unreachable = try problems([
            directory.source("gemeinden", base: Self.gemeinden, extra: tenant, url: "ldap://127.0.0.1:\(port)")
        ])
        #expect(unreachable.contains("cannot reach the directory"), "\(unreachable)")
        #expect(unreachable.contains("(unreachable)"))

        // Twenty servers that accept and never answer: each read ends at its deadline, and they wait at the
        // same time (one after the other, or two at a time on two cores, would take 40 or 20 s).
        let silent = LDAPDirectory.silentListener()
        defer { close(silent.fd) }
        let clock = ContinuousClock()
        let started = clock.now
        let hanging = try problems(
            (1...20).map {
                directory.source(
                    "hanging-\($0)", base: Self.gemeinden, extra: tenant + ["timeout: 2s"],
                    url: "ldap://127.0.0.1:\(silent.port)")
            })
        let waited = clock.now - started
        #expect(
            hanging.components(separatedBy: "StartTLS: the directory did not answer in time").count == 21,
            "\(hanging)")
        #expect(hanging.contains("ldap source 'hanging-20'") && hanging.contains("(timeout)"))
        #expect(waited < .seconds(15), "20 hanging sources took \(waited)")

        let untrusted = try problems([
            directory.source("gemeinden", base: Self.gemeinden, extra: tenant, ca: directory.info.otherCa)
        ])
        #expect(untrusted.contains("StartTLS failed"), "\(untrusted)")
        #expect(untrusted.contains("(tls)"))

        let duplicate = try problems([
            directory.source("gemeinden", base: Self.gemeinden, extra: tenant),
            directory.source("dup", base: "ou=Dup,dc=coop,dc=test", extra: ["tenant: egling"]),
        ])
        #expect(
            duplicate.contains(
                "host 'egl-pc-001' is given twice: by ldap source 'gemeinden' "
                    + "(cn=EGL-PC-001,ou=Verwaltung,ou=Egling,ou=Gemeinden,dc=coop,dc=test) and by ldap source 'dup' "
                    + "(cn=EGL-PC-001,ou=Dup,dc=coop,dc=test)"), "\(duplicate)")
        let withFile = try problems(
            [directory.source("gemeinden", base: Self.gemeinden, extra: tenant)],
            hosts: "  egl-pc-002: {address: 10.0.0.2, tenant: coop}")
        #expect(
            withFile.contains("host 'egl-pc-002' is given twice: by the inventory file (line 7) and by ldap source"))

        let noBase = try problems([directory.source("gemeinden", base: "ou=Nowhere,dc=coop,dc=test", extra: tenant)])
        #expect(noBase.contains("the base ou=Nowhere,dc=coop,dc=test does not exist"), "\(noBase)")
    }

    @Test("the configuration is checked before any directory is asked")
    func configuration() throws {
        let directory = try LDAPDirectory()
        let dir = try TempDir()
        let open = try dir.write("open.secret", "directory-pw-4711\n")
        chmod(open, 0o644)
        let loaded = InventoryLoader.load(
            file: try Self.inventory(
                dir,
                [
                    directory.source("a", base: Self.gemeinden, extra: ["tenant: nowhere"], password: open),
                    directory.source("b", base: Self.gemeinden, extra: ["tenant: egling"], url: "http://127.0.0.1:1"),
                    "  - {name: c, url: \"ldaps://127.0.0.1\", base: \"dc=x\", tenant: egling, bind_dn: \"cn=x\"}",
                ]))
        let text = Self.messages(loaded)
        #expect(loaded.value == nil)
        #expect(text.contains("password_file \(open) has mode 644: others may read it; chmod 600 it"))
        #expect(text.contains("ldap source 'a': unknown tenant 'nowhere'"))
        #expect(text.contains("ldap source 'b': the url must be ldaps:// or ldap:// (with StartTLS), not http://"))
        #expect(text.contains("ldap source 'c': bind_dn and password_file go together"))
        // Nothing was asked: the directory saw no bind.
        #expect(!directory.logText.contains("BIND dn=\"cn=itvd"))
    }

    @Test("a hostile directory: thousands of entries, a huge value, control characters are bounded and refused")
    func hostile() throws {
        let directory = try LDAPDirectory(["--computers", "0", "--many", "3000", "--huge", "3000000", "--control"])
        let dir = try TempDir()
        let many = InventoryLoader.load(
            file: try Self.inventory(
                dir,
                [
                    directory.source(
                        "many", base: "ou=Many,dc=coop,dc=test", extra: ["tenant: egling", "max_entries: 1000"])
                ]
            ))
        #expect(many.value == nil)
        #expect(Self.messages(many).contains("the search matches more than 1000 entries (max_entries)"))
        // Within the bound, 3,000 entries come in pages of 200.
        let all = InventoryLoader.load(
            file: try Self.inventory(
                dir, [directory.source("many", base: "ou=Many,dc=coop,dc=test", extra: ["tenant: egling"])]))
        #expect(all.value?.hosts.count == 3001, "\(Self.messages(all))")

        let huge = InventoryLoader.load(
            file: try Self.inventory(
                dir, [directory.source("huge", base: "ou=Huge,dc=coop,dc=test", extra: ["tenant: egling"])]))
        #expect(huge.value == nil)
        #expect(
            Self.messages(huge).contains("the directory sent an entry larger than 1 MiB (a huge attribute value)"),
            "\(Self.messages(huge))")

        let control = InventoryLoader.load(
            file: try Self.inventory(
                dir, [directory.source("control", base: "ou=Control,dc=coop,dc=test", extra: ["tenant: egling"])]))
        #expect(control.value == nil)
        let text = Self.messages(control)
        #expect(text.contains("host name 'EVIL\\u{1B}[31mPC\\u{07}' (cn) must use letters, digits"), "\(text)")
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
    }

    @Test("a computer deleted from the directory leaves the next load and the plans made from it")
    func removedComputer() throws {
        let directory = try LDAPDirectory()
        let dir = try TempDir()
        let file = try Self.inventory(
            dir, [directory.source("gemeinden", base: Self.gemeinden, extra: ["tenant_from_ou: true"])])
        let playbook = try fakeAppPlaybook(id: "app", waves: ["{name: all, size: rest, approval: auto}"])
            .replacingOccurrences(of: "targets: [fleet]", with: "targets: [egling-verwaltung]")
        let book = try #require(PlaybookLoader.parse(Array(playbook.utf8), file: "app.yaml").value)
        let before = try #require(InventoryLoader.load(file: file).value)
        let planBefore = try WavePlanner.plan(playbook: book, inventory: before, version: "2.0").get()
        #expect(planBefore.waves.flatMap(\.hosts).contains("egl-pc-001"))
        try directory.delete("cn=EGL-PC-001,ou=Verwaltung,ou=Egling,\(Self.gemeinden)")
        let after = try #require(InventoryLoader.load(file: file).value)
        #expect(after.hosts.count == before.hosts.count - 1)
        #expect(after.host(named: "egl-pc-001") == nil)
        let planAfter = try WavePlanner.plan(playbook: book, inventory: after, version: "2.0").get()
        #expect(!planAfter.waves.flatMap(\.hosts).contains("egl-pc-001"))
        // A rollout approved on the old plan sees another hash: plan_changed, as for any inventory change.
        #expect(planAfter.hash != planBefore.hash)
    }

    @Test("itvd check and itvd probe read the directory")
    func checkAndProbe() throws {
        let directory = try LDAPDirectory()
        let dir = try TempDir()
        let file = try Self.inventory(
            dir, [directory.source("gemeinden", base: Self.gemeinden, extra: ["tenant_from_ou: true"])])
        try dir.write("playbooks/.keep", "")
        let check = try runBinary("itvd", ["check", "--inventory", file, "--playbooks", dir.path + "/playbooks"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.hasPrefix("ok: 0 playbooks, 21 hosts, 3 tenants"), "\(check.stdout)")
        let probe = try runBinary(
            "itvd",
            [
                "probe", "--inventory", file, "--host", "egl-pc-001", "--identity", dir.path + "/none",
                "--known-hosts", dir.path + "/none", "--timeout", "5s", "--json",
            ])
        // The host comes from the directory; it does not exist, so the probe fails for it, by name.
        #expect(probe.stdout.contains("egl-pc-001"), "\(probe.stdout)\(probe.stderr)")
        #expect(probe.status == 1)
        directory.stop()
        let down = try runBinary("itvd", ["check", "--inventory", file, "--playbooks", dir.path + "/playbooks"])
        #expect(down.status == 1)
        #expect(down.stderr.contains("ldap source 'gemeinden': cannot reach the directory"), "\(down.stderr)")
    }
}
