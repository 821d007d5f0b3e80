import ITVCore
import Testing

@testable import ITVPlaybookLoader

@Suite struct InventoryTests {
    @Test func ourFormatAppliesDefaults() throws {
        let text = """
            defaults: {user: deploy, port: 2200, os: windows}
            tenants: {a: {name: Amt A}}
            hosts:
              h1: {address: 10.0.0.1, tenant: a, groups: [g1, g2]}
              h2: {address: h2.example, tenant: a, port: 22, user: root, os: linux}
            """
        let inv = try #require(InventoryLoader.parse(Array(text.utf8), file: "inv.yaml").value)
        #expect(inv.hosts.map(\.name) == ["h1", "h2"])
        #expect(inv.hosts[0].user == "deploy" && inv.hosts[0].port == 2200 && inv.hosts[0].os == .windows)
        #expect(inv.hosts[1].user == "root" && inv.hosts[1].port == 22 && inv.hosts[1].os == .linux)
        #expect(inv.tenants["a"]?.name == "Amt A")
        #expect(inv.hosts(forTargets: ["g2", "h2"]).map(\.name) == ["h1", "h2"])
        #expect(inv.hosts[0].location == SourceLocation(file: "inv.yaml", line: 4, column: 3))
    }

    @Test func tenantsNameTheirOwnGroupsAndWindows() throws {
        let text = """
            tenants:
              a: {name: Amt A, operators: [a-it, a-it], readers: [a-staff], windows: [evening-a]}
              b: {name: Markt B}
            hosts:
              h1: {address: 10.0.0.1, tenant: a}
              h2: {address: 10.0.0.2, tenant: b}
            """
        let inv = try #require(InventoryLoader.parse(Array(text.utf8), file: "inv.yaml").value)
        let a = try #require(inv.tenants["a"])
        #expect(a.operators == ["a-it"] && a.readers == ["a-staff"] && a.windows == ["evening-a"])
        #expect(inv.tenants["b"]?.operators == [] && inv.tenants["b"]?.windows == [])
        #expect(inv.tenantAccess(groups: ["a-it", "x"]) == (operate: ["a"], read: ["a"]))
        #expect(inv.tenantAccess(groups: ["a-staff"]) == (operate: [], read: ["a"]))
        #expect(inv.tenantAccess(groups: ["itv"]) == (operate: [], read: []))
        #expect(inv.tenants(servedBy: "evening-a") == ["a"] && inv.tenants(servedBy: "evening").isEmpty)
    }

    @Test func badTenantKeysAreErrorsWithTheirPlace() {
        let text = """
            tenants:
              a: {operators: [-rf], readers: a-staff, window: [x]}
            hosts:
              h1: {address: 10.0.0.1, tenant: a}
            """
        let loaded = InventoryLoader.parse(Array(text.utf8), file: "inv.yaml")
        #expect(loaded.value == nil)
        let messages = loaded.diagnostics.map(\.description)
        #expect(messages.contains { $0.hasPrefix("inv.yaml:2:19:") && $0.contains("group name '-rf'") }, "\(messages)")
        #expect(messages.contains { $0.contains("readers must be a list") }, "\(messages)")
        #expect(
            messages.contains { $0.contains("window") && $0.contains("unknown key") || $0.contains("'window'") },
            "\(messages)")
    }

    @Test func aTenantsWindowMustBeDeclaredInTheConfiguration() throws {
        let text = """
            tenants:
              a: {windows: [evening-a, evning]}
            hosts:
              h1: {address: 10.0.0.1, tenant: a}
            """
        let inv = try #require(InventoryLoader.parse(Array(text.utf8), file: "inv.yaml").value)
        let config = DaemonConfig(windows: [
            "evening-a": WindowSpec(name: "evening-a", duration: TimeSpan(seconds: 3600))
        ])
        let problems = SetValidator.validate(config: config, inventory: inv, playbooks: []).map(\.description)
        #expect(problems.count == 1, "\(problems)")
        #expect(problems.first?.hasPrefix("inv.yaml:2:3: tenant 'a': unknown window 'evning'") == true, "\(problems)")
    }

    @Test func ansibleInventoriesAreRead() throws {
        let text = """
            all:
              vars:
                ansible_user: itv
                itv_tenant: landratsamt
              hosts:
                jump: {ansible_host: 10.0.0.1}
              children:
                workstations:
                  children:
                    windows:
                      vars: {ansible_shell_type: powershell}
                      hosts:
                        ws-win-01: {ansible_host: 10.0.1.1}
                    linux:
                      hosts:
                        ws-lin-01: {ansible_host: 10.0.2.1, ansible_port: 2222}
                        ws-lin-02:
                egling:
                  vars: {itv_tenant: egling}
                  hosts:
                    ws-lin-02: {ansible_user: admin}
            """
        let loaded = InventoryLoader.parse(Array(text.utf8), file: "hosts.yml")
        #expect(loaded.diagnostics == [])
        let inv = try #require(loaded.value)
        #expect(inv.hosts.map(\.name) == ["jump", "ws-win-01", "ws-lin-01", "ws-lin-02"])
        let win = try #require(inv.host(named: "ws-win-01"))
        #expect(win.os == .windows && win.address == "10.0.1.1" && win.user == "itv")
        #expect(Set(win.groups) == ["workstations", "windows"])
        let lin1 = try #require(inv.host(named: "ws-lin-01"))
        #expect(lin1.port == 2222 && lin1.os == .linux && lin1.tenant == "landratsamt")
        let lin2 = try #require(inv.host(named: "ws-lin-02"))
        #expect(lin2.address == "ws-lin-02", "without ansible_host the name is the address")
        #expect(lin2.user == "admin" && lin2.tenant == "egling")
        #expect(Set(lin2.groups) == ["workstations", "linux", "egling"])
        #expect(Set(inv.tenants.keys) == ["landratsamt", "egling"])
    }

    @Test func anchorsAndAliasesWithinLimitsAreFine() throws {
        let text = """
            tenants: {a: {name: A}}
            hosts:
              h1: &ws {address: 10.0.0.1, tenant: a, groups: [ws]}
              h2: {address: 10.0.0.2, tenant: a, groups: [ws]}
            """
        #expect(InventoryLoader.parse(Array(text.utf8), file: "i.yaml").diagnostics == [])
    }

    @Test func deepNestingIsRefusedWhereItHappens() {
        var text = "tenants:\n"
        for depth in 1...70 { text += String(repeating: " ", count: depth * 2) + "k\(depth):\n" }
        let d = InventoryLoader.parse(Array(text.utf8), file: "deep.yaml").diagnostics
        #expect(d.map(\.description) == ["deep.yaml:65:129: nested more than 64 levels deep"])
    }
}

@Suite struct YAML11Tests {
    @Test(arguments: ["yes", "No", "ON", "off", "y", "N", "true", "FALSE"])
    func booleans(_ text: String) { #expect(YAML11.classify(text) == .bool) }

    @Test(arguments: [
        "1.10", "010", "0x1F", "0b101", "1e3", "-1.5", "22:22", "190:20:30.15", ".inf", "1_000", "+12", ".5",
    ])
    func numbers(_ text: String) { #expect(YAML11.classify(text) == .number) }

    @Test(arguments: ["1.2.3", "v1.10", "firefox-esr", "10.0.0.1", "2h", "a:b", "1.0a", "e5", "3M", "1-2", "..."])
    func strings(_ text: String) { #expect(YAML11.classify(text) == .string) }

    @Test func timeSpans() {
        #expect(TimeSpan.parse("1h30m") == TimeSpan(seconds: 5_400))
        #expect(TimeSpan.parse("2d") == TimeSpan(seconds: 172_800))
        #expect(TimeSpan.parse("1w2d") == TimeSpan(seconds: 777_600))
        for bad in ["", "90", "m", "1x", "30m1h", "1h1h", "-1m", "１m", "400d"] {
            #expect(TimeSpan.parse(bad) == nil, "\(bad)")
        }
        #expect(TimeSpan(seconds: 5_400).description == "1h30m")
    }
}
