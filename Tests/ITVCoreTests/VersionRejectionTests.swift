import Testing

@testable import ITVCore

/// The "never versions" of docs/VERSIONS.md, and more of their kind. None may parse under any scheme.
let neverVersions: [String] = [
    "1.2;id", "1.2 && reboot", "$(reboot)", "`x`", "1.2\n3", "\0", "1.2\0", "' OR 1=1",
    "\u{FF11}.\u{FF12}",  // full-width digits
    "1.2\u{202E}3", "\u{202E}1.2",  // right-to-left override
    "", String(repeating: "1.", count: 32) + "1",  // 65 characters, otherwise a fine version
    String(repeating: "9", count: 65),
    "1.2|sh", "1.2>x", "1.2<x", "1.2&", "1.2\t", "1.2\r", " 1.2", "1.2 ", "1.2\u{7F}", "1.2\u{1B}[31m",
    "1.2'", "1.2\"", "1.2\\", "1.2*", "1.2?", "1.2#", "1.2=3", "1.2%3", "1.2,3", "~/1.2", "../1.2", "1.2/3",
    "{1,2}", "[1]", "1.2^", "1.2@3", "\u{00A0}1.2", "1.2\u{200B}", "\u{0661}.\u{0662}",  // NBSP, ZWSP, Arabic digits
    "1.２", "-1.2", "--version", "-rf",
    "3f2a9c1", "3F2A9C1", "v3f2a9c1", "0123abc", "da39a3ee5e6b4b0d3255bfef95601890afd80709",  // commit hashes
]

/// Commit hashes as `git log` and `git describe` print them.
let commitHashes = ["3f2a9c1", "v3f2a9c1", "0123abc", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "DA39A3EE5E6B4B0D"]

@Test("A never version fails under every scheme, with a reason", arguments: VersionScheme.allCases, neverVersions)
func neverVersionFails(scheme: VersionScheme, text: String) {
    switch scheme.parse(text) {
    case .success(let version):
        Issue.record("\(scheme) accepted \(escapedForMessage(text, limit: 200, asciiOnly: true)) as \(version)")
    case .failure(let error):
        #expect(error.scheme == scheme)
        #expect(!error.reason.isEmpty)
        #expect(error.description.hasPrefix("not a \(scheme.rawValue) version: \""))
        #expect(error.description.hasSuffix(error.reason))
        // Safe to print and journal: printable ASCII only, short.
        #expect(error.text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F })
        #expect(error.description.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F })
        #expect(error.text.count <= 80)
    }
}

@Test("A commit hash is rejected as a commit hash", arguments: VersionScheme.allCases, commitHashes)
func commitHashFails(scheme: VersionScheme, text: String) {
    guard case .failure(let error) = scheme.parse(text) else {
        Issue.record("\(scheme) accepted the commit hash \(text)")
        return
    }
    #expect(error.kind == .commitHash)
    #expect(error.reason.contains("commit hash"))
}

@Test func dateLikeAndShortHexStringsAreNotCommitHashes() throws {
    #expect(try VersionScheme.date.parse("20241105").get().raw == "20241105")
    #expect(try VersionScheme.dotted.parse("20241105").get().raw == "20241105")
    #expect(try VersionScheme.dotted.parse("1.0a").get().raw == "1.0a")
    #expect(try VersionScheme.dotted.parse("2.6.0.12051").get().raw == "2.6.0.12051")
}

@Test(
    "Reasons name the offending character, escaped",
    arguments: [
        ("1.2;id", VersionParseError.Kind.forbiddenCharacter, "contains ';', which no version may contain"),
        ("1.2 && reboot", .whitespace, "contains a space"),
        ("1.2\n3", .controlCharacter, "contains the control character \\n"),
        ("\0", .controlCharacter, "contains the control character \\0"),
        ("\u{FF11}.\u{FF12}", .nonASCII, "contains the non-ASCII character \\u{FF11}"),
        ("1.2\u{202E}3", .nonASCII, "contains the non-ASCII character \\u{202E}"),
        ("", .empty, "is empty"),
        (String(repeating: "1", count: 65), .tooLong, "is 65 characters long; a version has at most 64"),
        ("1.2:3", .characterNotInScheme, "contains ':', which a semver version may not contain"),
    ]
)
func reasonNamesTheProblem(text: String, kind: VersionParseError.Kind, reason: String) {
    guard case .failure(let error) = VersionScheme.semver.parse(text) else {
        Issue.record("semver accepted \(escapedForMessage(text, limit: 80, asciiOnly: true))")
        return
    }
    #expect(error.kind == kind)
    #expect(error.reason == reason)
}

@Test func errorTextIsEscapedAndCut() {
    guard case .failure(let error) = VersionScheme.semver.parse("1.2;id") else {
        Issue.record("semver accepted 1.2;id")
        return
    }
    #expect(error.description == "not a semver version: \"1.2;id\": contains ';', which no version may contain")

    guard case .failure(let rlo) = VersionScheme.dotted.parse("1.2\u{202E}\"\\\n") else {
        Issue.record("dotted accepted an RLO")
        return
    }
    #expect(rlo.text == #"1.2\u{202E}"\\n"#)

    let long = String(repeating: "\u{202E}", count: 100)
    guard case .failure(let cut) = VersionScheme.debian.parse(long) else {
        Issue.record("debian accepted 100 RLOs")
        return
    }
    #expect(cut.kind == .tooLong)
    #expect(cut.text.count <= 80)
    #expect(cut.text.hasSuffix("..."))
    #expect(cut.text.hasPrefix(#"\u{202E}\u{202E}"#))
    #expect(!cut.text.dropLast(3).hasSuffix(#"\"#), "an escape is never split")
}

/// Texts with only allowed characters that still are not versions of the scheme.
@Test(
    "Grammar violations are rejected",
    arguments: [
        (VersionScheme.semver, "1.0"), (.semver, "1.0.0.0"), (.semver, "01.0.0"), (.semver, "1.0.0-"),
        (.semver, "1.0.0-01"), (.semver, "1.0.0-a..b"), (.semver, "1.0.0+"), (.semver, "1.0.0+a+b"),
        (.semver, "V1.0.0"), (.semver, "vv1.0.0"), (.semver, "1.0.0-rc.1+"), (.semver, ".1.0.0"),
        (.dotted, "v"), (.dotted, "alpha"), (.dotted, ".1"), (.dotted, "1."), (.dotted, "1..2"), (.dotted, "1-"),
        (.dotted, "vv1"), (.dotted, "1.0-~rc"),
        (.debian, "a1.0"), (.debian, ":1.0"), (.debian, "a:1.0"), (.debian, "1:2:3"), (.debian, "1.0-"),
        (.debian, "-1"), (.debian, "1:-1"), (.debian, "1:"), (.debian, "~1"),
        (.pep440, "a1"), (.pep440, "1.0+"), (.pep440, "1.0+a..b"), (.pep440, "1.0.x"), (.pep440, "1.0a1a2"),
        (.pep440, "1!"), (.pep440, "!1"), (.pep440, "1.0.dev1.post1"), (.pep440, "1.0-"), (.pep440, "1.0_"),
        (.pep440, "1..0"), (.pep440, "vv1"),
        (.date, "2024..1"), (.date, ".2024"), (.date, "2024."), (.date, "2024-11-05"), (.date, "v2024.1"),
    ]
)
func grammarViolation(scheme: VersionScheme, text: String) {
    guard case .failure(let error) = scheme.parse(text) else {
        Issue.record("\(scheme) accepted \(text)")
        return
    }
    #expect(!error.reason.isEmpty)
}
