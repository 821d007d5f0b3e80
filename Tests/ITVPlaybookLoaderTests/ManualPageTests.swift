import Foundation
import Testing

@testable import ITVPlaybookLoader

/// The hand-written manual pages in docs/man document exactly the keys the loaders accept, so that
/// `man itv-playbook` answers what any accepted key means, and documents no key that does not exist.
/// A key's entry is a `.TP` line followed by `.B key` in the page's KEYS section; placeholders are
/// written in italics (`hosts.\fINAME\fB.address`).
@Suite struct ManualPageTests {
    static let manDirectory = repositoryRoot + "/docs/man"

    /// The documented keys of a page: `.TP` + `.B key` lines between `.SH KEYS` and the next `.SH`.
    static func documentedKeys(_ page: String) throws -> [String] {
        let text = try String(contentsOfFile: manDirectory + "/" + page, encoding: .utf8)
        var keys: [String] = []
        var inKeys = false
        var afterTP = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix(".SH ") {
                inKeys = line == ".SH KEYS"
                afterTP = false
                continue
            }
            guard inKeys else { continue }
            if afterTP, line.hasPrefix(".B ") {
                keys.append(plain(String(line.dropFirst(3))))
            }
            afterTP = line == ".TP"
        }
        return keys
    }

    /// Removes font escapes and escaped minus signs: `hosts.\fINAME\fB.address` -> `hosts.NAME.address`.
    static func plain(_ roff: String) -> String {
        var s = roff.replacingOccurrences(of: "\\-", with: "-")
        for font in ["\\fB", "\\fI", "\\fR", "\\fP"] { s = s.replacingOccurrences(of: font, with: "") }
        return s
    }

    static func expectSameKeys(_ page: String, _ expected: [String]) throws {
        let documented = try documentedKeys(page)
        #expect(Set(expected).subtracting(documented).sorted() == [], "accepted by the loader, missing in \(page)")
        #expect(Set(documented).subtracting(expected).sorted() == [], "in \(page), not accepted by the loader")
        #expect(documented.count == Set(documented).count, "a key documented twice in \(page)")
    }

    @Test func itvPlaybookDocumentsEveryPlaybookKey() throws {
        let nested = ["feed", "steps", "rollout", "artifact"]
        let expected =
            PlaybookLoader.topKeys.filter { !nested.contains($0) }
            + PlaybookLoader.feedKeys.map { "feed." + $0 }
            + PlaybookLoader.stepKeys.map { "steps." + $0 }
            + PlaybookLoader.rolloutKeys.map { "rollout." + $0 }
            + PlaybookLoader.waveKeys.map { "rollout.waves[]." + $0 }
            + PlaybookLoader.artifactKeys.filter { !["checksums", "signature"].contains($0) }.map { "artifact." + $0 }
            + PlaybookLoader.checksumKeys.map { "artifact.checksums." + $0 }
            + PlaybookLoader.signatureKeys.map { "artifact.signature." + $0 }
        try Self.expectSameKeys("itv-playbook.5", expected)
    }

    @Test func itvdYamlDocumentsEveryConfigurationKey() throws {
        // A window's only key, `duration`, is spelled in ConfigLoader.read.
        let expected =
            ConfigLoader.topKeys.filter { $0 != "ssh" && $0 != "artifacts" } + ConfigLoader.sshKeys.map { "ssh." + $0 }
            + ConfigLoader.artifactsKeys.map { "artifacts." + $0 }
            + ["windows.NAME.duration"]
        try Self.expectSameKeys("itvd.yaml.5", expected)
    }

    @Test func itvInventoryDocumentsEveryInventoryKey() throws {
        #expect(InventoryLoader.topKeys == ["defaults", "tenants", "hosts", "ldap"])
        let expected =
            InventoryLoader.defaultKeys.map { "defaults." + $0 } + InventoryLoader.tenantKeys.map { "tenants.ID." + $0 }
            + InventoryLoader.hostKeys.map { "hosts.NAME." + $0 }
            + DirectorySourceLoader.keys.map { "ldap[]." + $0 }
        try Self.expectSameKeys("itv-inventory.5", expected)
    }

    /// The pages' footers name the release of debian/changelog (`.TH NAME 5 DATE "itv VERSION" ...`).
    @Test func pagesNameTheReleaseOfTheChangelog() throws {
        let changelog = try String(contentsOfFile: repositoryRoot + "/debian/changelog", encoding: .utf8)
        let first = try #require(changelog.split(separator: "\n").first)
        // "itv (0.1.0) unstable; urgency=medium"
        let version = try #require(first.split(separator: "(").dropFirst().first?.split(separator: ")").first)
        for page in ["itvd.yaml.5", "itv-inventory.5", "itv-playbook.5"] {
            let text = try String(contentsOfFile: Self.manDirectory + "/" + page, encoding: .utf8)
            let th = try #require(text.split(separator: "\n").first { $0.hasPrefix(".TH ") })
            #expect(th.contains("\"itv \(version)\""), "\(page): \(th)")
        }
    }
}
