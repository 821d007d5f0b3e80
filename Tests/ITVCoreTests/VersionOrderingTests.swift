import Foundation
import Testing

@testable import ITVCore

/// Every ordering line of docs/VERSIONS.md, word for word.
let versionsDocumentLines: [OrderingLine] = [
    .ascending(
        .semver, "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
        "1.0.0-rc.1", "1.0.0"
    ),
    .ascending(.semver, "1.2.3-beta.2", "1.2.3-beta.11", "1.2.3"),
    .ascending(.semver, "v3.2.8-pre1", "v3.2.8"),
    .equal(.semver, "1.0.0+1", "1.0.0+2"),
    .ascending(.semver, "2.0.0-M12", "2.0.0-M9"),
    .equal(.dotted, "v5.4", "5.4", "5.4.0"),
    .equal(.dotted, "1.2.00.3", "1.2.0.3"),
    .equal(.dotted, "01.02.03.04", "1.2.3.4"),
    .ascending(.dotted, "2024.1.3", "2024.1.10", "2024.2"),
    .ascending(.dotted, "2023.3.5", "2024.1"),
    .ascending(.dotted, "10.0.19045.3803", "10.0.19045.4291", "10.0.22631.2861"),
    .ascending(.dotted, "2.6.0.12051", "2.6.0.12054", "2.6.1"),
    .ascending(.dotted, "1.0alpha1", "1.0", "1.0patch1", "1.0.1", "1.0a"),
    .ascending(.dotted, "3.0.0-rc", "3.0.0-rc-2", "3.0.0-rc-3", "3.0.0"),
    .ascending(.dotted, "1.0b9", "1.0b10"),
    .ascending(.debian, "2.0", "1:1.0"),
    .ascending(.debian, "1.9", "1:1.7"),
    .equal(.debian, "0:1.4", "1.4"),
    .ascending(.debian, "2.4~~", "2.4~", "2.4", "2.4a"),
    .ascending(.debian, "1:1.0~", "1:1.0"),
    .ascending(.debian, "9.5.0-1ubuntu1~22.04", "9.5.0-1ubuntu1"),
    .ascending(.debian, "2.31-13+deb10u5", "2.31-13+deb11u5"),
    .ascending(.debian, "2.31-9", "2.31-13+deb11u5"),
    .ascending(.pep440, "1.0.dev1", "1.0a1", "1.0b1", "1.0rc1", "1.0", "1.0.post1"),
    .ascending(.pep440, "2.0", "1!0.1"),
    .ascending(.date, "2023.12.31", "2024.1.1", "2024.1.10"),
]

/// Orderings from the schemes' own sources, beyond docs/VERSIONS.md.
let upstreamLines: [OrderingLine] = [
    // libversion doc/ALGORITHM.md, example table.
    .ascending(.dotted, "1.0alpha1", "1.0beta1", "1.0", "1.0patch1", "1.0.1", "1.0a", "1.0b", "1.1", "1.2"),
    .equal(.dotted, "1.0a1", "1.0alpha1", "1.0ALPHA1"),
    .equal(.dotted, "1", "1.0", "1.0.0", "v1", "1-0_0+0~0"),
    // Words compare by first letter only: errata (e) < patch = pl = post (p).
    .ascending(.dotted, "1.0git20190911", "1.0", "1.0errata1", "1.0pl1", "1.0.1"),
    .equal(.dotted, "1.0pl1", "1.0post1", "1.0patch1", "1.0-PL-1"),
    .ascending(.dotted, "1.0preview1", "1.0", "1.0patchlevel1"),
    .ascending(.dotted, "1.0.99999999999999999999998", "1.0.99999999999999999999999", "1.0.100000000000000000000000"),
    // PEP 440, "Summary of permitted suffixes and relative ordering".
    .ascending(
        .pep440, "1.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456", "1.0b2",
        "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5",
        "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1"
    ),
    .equal(.pep440, "1.0", "1.0.0", "v1.0", "0!1.0", "1.00.0", "01.0.0.0"),
    .equal(.pep440, "1.0a1", "1.0.alpha.1", "1.0-A1", "1.0a01"),
    .equal(.pep440, "1.0rc1", "1.0c1", "1.0pre1", "1.0preview1", "1.0-rc_1"),
    .equal(.pep440, "1.0.post1", "1.0-1", "1.0post1", "1.0.r1", "1.0-rev1"),
    .equal(.pep440, "1.0.dev0", "1.0dev", "1.0-dev0"),
    .ascending(.pep440, "1.0", "1.0-0", "1.0.post1"),
    .equal(.pep440, "1.0+ubuntu.1", "1.0+ubuntu-1", "1.0+UBUNTU_01"),
    // deb-version(7) and dpkg's verrevcmp (each pair also checked with `dpkg --compare-versions`).
    .ascending(.debian, "1.0~rc1", "1.0", "1.0-0.1", "1.0-1", "1.0a", "1.0+b1", "1.0.1"),
    .equal(.debian, "1.0", "1.0-0", "01.00", "0:1.0-00"),
    .ascending(.debian, "1.0", "1.0a", "1.0+", "1.0.0"),
    // SemVer 2.0.0 section 11.2, and numbers of any length.
    .ascending(.semver, "1.0.0", "2.0.0", "2.1.0", "2.1.1"),
    .ascending(.semver, "1.0.0-rc.1", "1.0.0-rc.1.0", "1.0.0-rc.a", "1.0.0-rc-1"),
    .ascending(.semver, "1.0.18446744073709551615", "1.0.18446744073709551616", "1.0.99999999999999999999999"),
    .equal(.semver, "1.2.3", "v1.2.3", "1.2.3+build.5", "v1.2.3+001"),
    .equal(.date, "2024.11", "2024.11.0", "2024.011", "02024.11.00"),
    .ascending(.date, "2024.11", "2024.11.5", "2024.12", "20241105"),
]

@Test("docs/VERSIONS.md ordering lines hold", arguments: versionsDocumentLines)
func versionsDocumentOrdering(line: OrderingLine) {
    check(line)
}

/// The list above is docs/VERSIONS.md's table, not a paraphrase of it: every version of every ordering row of the
/// document is in the list under the row's scheme, and the list holds nothing the document does not.
@Test func theOrderingLinesAreTheDocumentsTable() throws {
    let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/VERSIONS.md")
    let text = try String(contentsOf: docs, encoding: .utf8)
    guard let start = text.range(of: "## Orderings that must hold") else {
        Issue.record("docs/VERSIONS.md has no section \"Orderings that must hold\"")
        return
    }
    var documented: Set<String> = []
    for line in text[start.upperBound...].split(separator: "\n") {
        if line.hasPrefix("## ") { break }
        let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        guard cells.count >= 2, let scheme = VersionScheme(rawValue: cells[0]) else { continue }
        // The versions are the `quoted` parts of the ordering cell (its remarks quote none).
        let quoted = cells[1].split(separator: "`", omittingEmptySubsequences: false).enumerated()
            .filter { $0.offset % 2 == 1 }.map { "\(scheme.rawValue) \($0.element)" }
        documented.formUnion(quoted)
    }
    let listed = Set(versionsDocumentLines.flatMap { line in line.versions.map { "\(line.scheme.rawValue) \($0)" } })
    #expect(documented.count > 50, "the table was not read: \(documented.sorted())")
    let onlyDocumented = documented.subtracting(listed).sorted()
    let onlyListed = listed.subtracting(documented).sorted()
    #expect(documented == listed, "in the document only: \(onlyDocumented); in the list only: \(onlyListed)")
}

@Test("Orderings from libversion, PEP 440, deb-version(7) and SemVer hold", arguments: upstreamLines)
func upstreamOrdering(line: OrderingLine) {
    check(line)
}

/// Checks every pair of the line, not only neighbours, in both directions.
private func check(_ line: OrderingLine) {
    let parsed = line.versions.compactMap { parsedVersion($0, line.scheme) }
    guard parsed.count == line.versions.count else { return }
    for i in parsed.indices {
        for j in parsed.indices where i < j {
            let (a, b) = (parsed[i], parsed[j])
            switch line.relation {
            case .ascending:
                #expect(a < b, "\(a) < \(b)")
                #expect(!(b < a), "not \(b) < \(a)")
                #expect(a != b, "\(a) != \(b)")
            case .equal:
                #expect(a == b, "\(a) == \(b)")
                #expect(!(a < b) && !(b < a), "neither \(a) < \(b) nor the reverse")
                #expect(a.hashValue == b.hashValue, "equal versions \(a) and \(b) hash alike")
            }
        }
    }
}

@Test func rawKeepsTheTextThatParsed() throws {
    let version = try VersionScheme.semver.parse("v3.2.8-pre1").get()
    #expect(version.raw == "v3.2.8-pre1")
    #expect(version.description == "v3.2.8-pre1")
    #expect(Set(["5.4", "v5.4", "5.4.0"].compactMap { parsedVersion($0, .dotted) }).count == 1)
}

@Test(
    "isPrerelease follows each scheme's rule",
    arguments: [
        (VersionScheme.semver, "1.0.0-rc.1", true), (.semver, "1.0.0+rc", false), (.semver, "v1.0.0", false),
        (.pep440, "1.0.dev1", true), (.pep440, "1.0a1", true), (.pep440, "1.0rc1", true),
        (.pep440, "1.0.post1", false), (.pep440, "1.0+dev", false),
        (.debian, "2.4~rc1", true), (.debian, "2.4-1", false),
        (.dotted, "1.0alpha1", true), (.dotted, "1.0pre", true), (.dotted, "1.0git20190911", true),
        (.dotted, "1.0", false), (.dotted, "1.0a", false), (.dotted, "1.0patch1", false), (.dotted, "1.0.post1", false),
        (.date, "2024.1.3", false),
    ]
)
func prerelease(scheme: VersionScheme, text: String, expected: Bool) {
    #expect(parsedVersion(text, scheme)?.isPrerelease == expected)
}

@Test func versionsOfDifferentSchemesOrderBySchemeName() {
    guard let dotted = parsedVersion("9.9", .dotted), let date = parsedVersion("1.0", .date) else { return }
    // "date" < "dotted" by raw value, whatever the numbers say.
    #expect(date < dotted)
    #expect(!(dotted < date))
    #expect(date != dotted)
    #expect(parsedVersion("1.0", .date) != parsedVersion("1.0", .dotted))
}
