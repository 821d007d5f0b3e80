import ITVCore
import Testing

@testable import ITVPlaybookLoader

/// Issue 13: `mac:` in the inventory, `wake_on_lan:` in itvd.yaml and per tenant, and the rollout's
/// `retry_unreached`, `reach_deadline` and `max_unreached`.
@Suite struct WakeOnLANConfigTests {
    @Test func macAddressesAndTenantTargetsAreRead() throws {
        let text = """
            tenants:
              a: {name: Amt A}
              b: {name: Egling, wake_on_lan: {address: 10.2.255.255, port: 7, lead: 2m}}
            hosts:
              h1: {address: 10.1.0.1, tenant: a, mac: "52:54:00:12:34:56"}
              h2: {address: 10.2.0.1, tenant: b, mac: "52-54-00-AB-CD-EF"}
              h3: {address: 10.2.0.2, tenant: b}
            """
        let inv = try #require(InventoryLoader.parse(Array(text.utf8), file: "inv.yaml").value)
        #expect(inv.hosts.map(\.mac) == ["52:54:00:12:34:56", "52:54:00:ab:cd:ef", nil])
        #expect(
            inv.tenants["b"]?.wakeOnLAN == WakeOnLAN(address: "10.2.255.255", port: 7, lead: TimeSpan(seconds: 120)))
        #expect(inv.tenants["a"]?.wakeOnLAN == nil)
        var config = DaemonConfig()
        config.wakeOnLAN = WakeOnLAN(address: "10.1.255.255")
        let set = LoadedSet(config: config, inventory: inv, playbooks: [])
        #expect(set.wakeOnLAN(for: "h1") == WakeOnLAN(address: "10.1.255.255", port: 9, lead: TimeSpan(seconds: 300)))
        #expect(set.wakeOnLAN(for: "h2")?.address == "10.2.255.255")  // the tenant's own
        #expect(set.wakeOnLAN(for: "h3") == nil)  // no MAC: never woken
    }

    @Test(arguments: [
        "52:54:00:12:34", "52:54:00:12:34:5g", "52:54-00:12:34:56", "525400123456", "01:00:5e:00:00:01",
        "ff:ff:ff:ff:ff:ff", "52:54:00:12:34:56:78", "",
    ])
    func anInvalidMACIsAnErrorAtItsLocation(_ mac: String) {
        let text = """
            tenants: {a: {}}
            hosts:
              h1: {address: 10.1.0.1, tenant: a}
              h2: {address: 10.1.0.2, tenant: a, mac: "\(mac)"}
            """
        let loaded = InventoryLoader.parse(Array(text.utf8), file: "inv.yaml")
        #expect(loaded.value == nil)
        let d = loaded.diagnostics.map(\.description)
        #expect(d.count == 1)
        #expect(d.first?.hasPrefix("inv.yaml:4:43: host 'h2' mac") == true, "\(d)")
        #expect(d.first?.contains("is not a MAC address") == true)
    }

    @Test func wakeOnLANInTheConfigurationIsCheckedWhereItIsWritten() throws {
        let good = ConfigLoader.parse(
            Array("wake_on_lan: {address: 10.1.255.255, lead: 90s}\n".utf8), file: "/etc/itvd/itvd.yaml")
        #expect(
            try #require(good.value).wakeOnLAN == WakeOnLAN(address: "10.1.255.255", lead: TimeSpan(seconds: 90)))
        for (text, message) in [
            ("wake_on_lan: {address: wol.example}\n", "/etc/itvd/itvd.yaml:1:24: wake_on_lan.address 'wol.example'"),
            ("wake_on_lan: {address: 10.1.255.256}\n", "/etc/itvd/itvd.yaml:1:24: wake_on_lan.address"),
            ("wake_on_lan: {port: 9}\n", "/etc/itvd/itvd.yaml:1:14: wake_on_lan: missing key 'address'"),
            ("wake_on_lan: {address: 10.0.0.255, port: 70000}\n", "/etc/itvd/itvd.yaml:1:42:"),
            ("wake_on_lan: {address: 10.0.0.255, mac: x}\n", "/etc/itvd/itvd.yaml:1:36:"),
        ] {
            let loaded = ConfigLoader.parse(Array(text.utf8), file: "/etc/itvd/itvd.yaml")
            #expect(loaded.value == nil, "\(text)")
            #expect(loaded.diagnostics.first?.description.hasPrefix(message) == true, "\(loaded.diagnostics)")
        }
    }

    @Test func theMagicPacketIsSixFFThenTheMACSixteenTimes() throws {
        let mac = try #require(MACAddress.parse("52:54:00:12:34:56"))
        let packet = WakeOnLAN.magicPacket(mac: mac)
        #expect(packet.count == 102)
        #expect(packet.prefix(6).allSatisfy { $0 == 0xFF })
        for i in 0..<16 { #expect(Array(packet[(6 + 6 * i)..<(12 + 6 * i)]) == [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]) }
    }
}

@Suite struct UnreachedRolloutKeysTests {
    @Test func retryDeadlineAndMaxUnreachedAreReadWithDefaults() throws {
        let plain = try #require(PlaybookLoader.parse(Array(ValidSet.playbook.utf8), file: "pb.yaml").value)
        #expect(plain.rollout.retryUnreached.seconds == 900 && plain.rollout.reachDeadline.seconds == 7 * 86_400)
        #expect(plain.rollout.maxUnreached == .percent(50))
        let text = ValidSet.playbook.replacingOccurrences(
            of: "  max_failures: 1",
            with: "  max_failures: 1\n  retry_unreached: 5s\n  reach_deadline: 2d\n  max_unreached: 3")
        let p = try #require(PlaybookLoader.parse(Array(text.utf8), file: "pb.yaml").value)
        #expect(p.rollout.retryUnreached.seconds == 5 && p.rollout.reachDeadline.seconds == 2 * 86_400)
        #expect(p.rollout.maxUnreached == .count(3))
        let recipe = RolloutRecipe(playbook: p)
        #expect(recipe.retryUnreachedMillis == 5_000 && recipe.unreachedThreshold == .count(3))
        let bad = ValidSet.playbook.replacingOccurrences(
            of: "  max_failures: 1", with: "  max_failures: 1\n  max_unreached: 150%\n  retry_unreached: 0s")
        let refused = PlaybookLoader.parse(Array(bad.utf8), file: "pb.yaml")
        #expect(refused.value == nil)
        let messages = refused.diagnostics.map(\.description).joined(separator: "\n")
        #expect(messages.contains("rollout.max_unreached '150%' must be a percentage"), "\(messages)")
        #expect(messages.contains("rollout.retry_unreached must be at least 1s"), "\(messages)")
    }

    /// A rollout made by an itvd from before deferral has no such keys in its stored recipe: defaults.
    @Test func anOldRecipeDecodesWithTheDefaults() throws {
        let p = try #require(PlaybookLoader.parse(Array(ValidSet.playbook.utf8), file: "pb.yaml").value)
        var recipe = RolloutRecipe(playbook: p)
        recipe.retryUnreachedSeconds = nil
        recipe.reachDeadlineSeconds = nil
        recipe.maxUnreached = nil
        #expect(recipe.retryUnreachedMillis == 900_000 && recipe.reachDeadlineMillis == 7 * 86_400_000)
        #expect(recipe.unreachedThreshold == .percent(50))
    }
}
