import ITVCore
import ITVEngine
import Testing

@testable import ITVFeeds

/// The release each versioned corpus document announces under a real scheme, whatever the document's order.
struct SelectionCase: Sendable, CustomTestStringConvertible {
    var file: String
    var scheme: VersionScheme
    var prereleases = false
    var expected: String
    var testDescription: String { "\(file) (\(scheme.rawValue))" }
}

let selectionCases: [SelectionCase] = [
    .init(file: "nuget-v2-odata-nunit-unordered.xml", scheme: .dotted, expected: "3.11.0"),
    .init(file: "nuget-v2-odata-nunit-unordered.xml", scheme: .semver, expected: "3.11.0"),
    .init(file: "sparkle-appcast-nvchecker-pinned.xml", scheme: .dotted, expected: "6.0"),
    .init(file: "sparkle-appcast-channels.xml", scheme: .dotted, expected: "7.0"),
    .init(file: "html-dirlisting-nginx.html", scheme: .dotted, expected: "0.1.11"),
    .init(file: "maven-metadata.xml", scheme: .dotted, expected: "2.0.0"),
    .init(file: "github-releases-gulp.atom", scheme: .semver, expected: "3.9.0"),
    .init(file: "pypi-simple-pep503-yanked.html", scheme: .pep440, expected: "0.5.0"),
    .init(file: "pypi-simple-pep691.json", scheme: .pep440, expected: "1.5.1"),
    .init(file: "debian-Packages.txt", scheme: .debian, expected: "7.71.3+ds-1"),
    .init(file: "repology-project-gcc-defaults.json", scheme: .dotted, expected: "9"),
    .init(file: "winget-7zip-19.00.00.0.installer.yaml", scheme: .dotted, expected: "19.00.00.0"),
    .init(file: "sourceforge-rss-filezilla.xml", scheme: .dotted, expected: "3.31.0"),
    .init(file: "html-vendor-downloads-phpmyadmin.html", scheme: .dotted, expected: "5.1.0"),
    .init(file: "html-vendor-downloads-phpmyadmin.html", scheme: .dotted, prereleases: true, expected: "5.1.0"),
]

@Suite struct CorpusSelectionTests {
    @Test(arguments: selectionCases)
    func highestUnderTheScheme(_ c: SelectionCase) throws {
        guard let base = corpusCases.first(where: { $0.file == c.file }) else {
            Issue.record("no corpus case for \(c.file)")
            return
        }
        let spec = FeedSpec(
            kind: base.kind, url: base.url, select: base.select, match: base.match, scheme: c.scheme,
            prereleases: c.prereleases)
        let doc = FeedDocument(body: try Corpus.bytes(c.file), contentType: base.contentType, effectiveURL: base.url)
        let x = try FeedExtractor().extract(doc, spec: spec).get()
        // Reversed and shuffled order gives the same answer: order and dates never decide.
        for candidates in [x.candidates, x.candidates.reversed(), x.candidates.shuffled()] {
            let s = ReleaseSelector.select(candidates: candidates, spec: spec, seen: [])
            #expect(s.newRelease?.raw == c.expected)
        }
    }

    @Test func nugetPrereleasesAreDroppedUnlessAllowed() throws {
        let base = try #require(corpusCases.first { $0.file == "nuget-v2-odata-nunit-unordered.xml" })
        let doc = FeedDocument(body: try Corpus.bytes(base.file), effectiveURL: base.url)
        let spec = FeedSpec(kind: .text, url: base.url, match: base.match, scheme: .dotted)
        let x = try FeedExtractor().extract(doc, spec: spec).get()
        let s = ReleaseSelector.select(candidates: x.candidates, spec: spec, seen: [])
        #expect(s.skippedPrereleases.map(\.raw).contains("3.0.0-rc-3"))
        #expect(s.rejected.isEmpty)
        let seen: Set<Version> = [try VersionScheme.dotted.parse("3.11.0").get()]
        #expect(ReleaseSelector.select(candidates: x.candidates, spec: spec, seen: seen).newRelease == nil)
        let later: Set<Version> = [try VersionScheme.dotted.parse("3.12").get()]
        let rollback = ReleaseSelector.select(candidates: x.candidates, spec: spec, seen: later)
        #expect(rollback.rollbackSuspected?.offered.raw == "3.11.0")
    }

    @Test func feedTextThatIsNoVersionIsRejectedUnderEveryScheme() {
        let hostile = [
            "1.2;id", "1.2 && reboot", "$(reboot)", "`x`", "1.2\n3", "\u{FF11}.\u{FF12}", "1.2\u{202E}",
            String(repeating: "1", count: 10_240), "' OR 1=1",
        ]
        for scheme in VersionScheme.allCases {
            let spec = FeedSpec(kind: .text, url: "https://x", scheme: scheme, prereleases: true)
            let s = ReleaseSelector.select(candidates: hostile, spec: spec, seen: [])
            #expect(s.rejected.count == hostile.count)
            #expect(s.newRelease == nil && s.highestOffered == nil)
        }
    }
}
