import ITVCore
import Testing

@testable import ITVPlaybookLoader

/// The pure parts of the `ldap:` source: DNs, OUs, operatingSystem values. The directory itself is tested
/// against a real slapd in `Tests/ITVDaemonTests/LDAPSourceTests.swift`.
@Suite struct DirectoryMappingTests {
    @Test func distinguishedNamesWithEscapesAndMultiValuedRDNs() throws {
        let dn = try #require(DistinguishedName.parse(#"CN=Schule\, Egling,OU=Gruppen \2B Rollen,DC=coop,DC=example"#))
        #expect(dn.map(\.type) == ["CN", "OU", "DC", "DC"])
        #expect(dn.map(\.value) == ["Schule, Egling", "Gruppen + Rollen", "coop", "example"])
        let multi = try #require(DistinguishedName.parse("cn=PC1+serialNumber=42,ou=Egling,dc=test"))
        #expect(multi.map(\.value) == ["PC1", "Egling", "test"])
        #expect(DistinguishedName.parse("cn=x\\")?.isEmpty != false)
        #expect(DistinguishedName.parse("no equals sign,dc=test") == nil)
        #expect(DistinguishedName.parse("CN=Grüne Schule,DC=test")?.first?.value == "Grüne Schule")
    }

    @Test func organizationalUnitsBetweenTheEntryAndTheBase() {
        let dn = "CN=EGL-PC-001,OU=Verwaltung,OU=Egling,OU=Gemeinden,DC=coop,DC=example"
        #expect(
            DirectorySourceLoader.containerOUs(dn, base: "OU=Gemeinden,DC=coop,DC=example") == ["Verwaltung", "Egling"])
        #expect(
            DirectorySourceLoader.containerOUs(dn, base: "OU=Egling,OU=Gemeinden,DC=coop,DC=example") == ["Verwaltung"])
        // An entry directly under the base lies in no OU below it.
        #expect(DirectorySourceLoader.containerOUs("CN=PC,DC=coop,DC=example", base: "DC=coop,DC=example") == [])
        #expect(DirectorySourceLoader.directoryName("Egling an der Paar") == "egling-an-der-paar")
    }

    @Test func operatingSystemValuesAsDirectoriesWriteThem() {
        #expect(DirectorySourceLoader.osFamily("Windows 10 Enterprise") == .windows)
        #expect(DirectorySourceLoader.osFamily("Windows Server 2022 Standard") == .windows)
        #expect(DirectorySourceLoader.osFamily("Debian GNU/Linux 12 (bookworm)") == .linux)
        #expect(DirectorySourceLoader.osFamily("Ubuntu") == .linux)
        #expect(DirectorySourceLoader.osFamily("Mac OS X") == nil)
        #expect(DirectorySourceLoader.osFamily("") == nil)
    }
}
