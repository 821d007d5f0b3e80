import Foundation
import ITVCore
import ITVEngine
import Testing

@testable import ITVFeeds

/// What reading one corpus document must give.
enum Expect: Sendable {
    /// Exactly these candidates, in document order.
    case exactly([String])
    /// Candidates including these (large real-world documents).
    case includes([String])
    /// Exactly these candidates, and the recovered sloppiness is reported (feedparser's "bozo").
    case flagged([String])
    /// Fails cleanly with this kind.
    case fails(FeedParseError.Kind)
}

struct CorpusCase: Sendable, CustomTestStringConvertible {
    var file: String
    var kind: FeedKind
    var select: String? = nil
    var match: String? = nil
    var contentType: String? = nil
    var url: String = "https://vendor.example/feed"
    var expect: Expect

    var testDescription: String { file }
}

private let sparkle = #"^Version (?<version>.+)$"#
private let winget = #"PackageVersion: ["']?(?<version>[^"'\r\n]+)"#
private let nuget = #"<d:Version>(?<version>[^<]+)</d:Version>"#
private let maven = #"<version>(?<version>[^<]+)</version>"#
private let debian = #"(?m)^Version: (?<version>\S+)"#

/// One entry per document of the corpus; `everyDocumentHasACase` fails when a document is added without one.
let corpusCases: [CorpusCase] = [
    .init(file: "atom-empty-feed-etag-header.xml", kind: .atom, expect: .exactly([])),
    .init(file: "atom-github-entry-missing-fields.atom", kind: .github, expect: .exactly(["v3.9.0"])),
    .init(
        file: "atom-heise-utf8-german.atom", kind: .atom, match: #"WildFly (?<version>\d+)"#, expect: .exactly(["10"])),
    .init(file: "atom-incomplete-fields.atom", kind: .atom, expect: .exactly([])),
    .init(
        file: "atom-link-text-instead-of-href.xml", kind: .atom, select: "link",
        expect: .exactly(["http://www.example.com/"])),
    .init(
        file: "atom-xhtml-summary.xml", kind: .atom, select: "content",
        expect: .exactly(["Some markingsExampleOn a quote..."])),
    .init(file: "atom-xml-base-iri-empty-href.xml", kind: .atom, expect: .exactly([])),
    .init(file: "atom03-legacy.xml", kind: .atom, expect: .exactly([])),
    .init(
        file: "atom03-relative-link-content-location.xml", kind: .atom, select: "link", url: "http://example.com/",
        expect: .exactly(["http://example.com/relative/link"])),
    .init(file: "atom03-utf8-but-text-xml-header.xml", kind: .atom, contentType: "text/xml", expect: .exactly([])),
    .init(file: "atom03-xml-base-inherit.xml", kind: .atom, select: "content", expect: .exactly(["Example test"])),
    .init(
        file: "atom10-rfc4287-extended-example-variant.xml", kind: .atom, expect: .exactly(["Atom draft-07 snapshot"])),
    .init(file: "debian-InRelease-bullseye.txt", kind: .text, match: debian, expect: .exactly(["11.10"])),
    .init(
        file: "debian-Packages.txt", kind: .text, match: debian,
        expect: .exactly(["4.15-1", "4.05-7.2", "4.05-7.3", "7.71.3+ds-1"])),
    .init(
        file: "endoflife-date-eks.json", kind: .json, select: "[*].latest",
        expect: .includes(["1.26-eks-1", "1.25-eks-3"])),
    .init(
        file: "github-releases-gulp.atom", kind: .github, match: #"^v(?<version>.+)$"#,
        expect: .includes(["3.9.0", "3.8.11", "3.8.10"])),
    .init(
        file: "gitlab-releases-api-list.json", kind: .json, select: "[*].tag_name", expect: .exactly(["v0.2", "v0.1"])),
    .init(
        file: "html-dirlisting-nginx.html", kind: .html, match: #"href="nginx-(?<version>[0-9.]+)\.tar\.gz""#,
        expect: .exactly(["0.1.0", "0.1.1", "0.1.11"])),
    .init(
        file: "html-vendor-downloads-phpmyadmin.html", kind: .html,
        match: #"phpMyAdmin-(?<version>[0-9][0-9.]*[0-9](-(rc|beta|alpha)[0-9]*)?)-all-languages\.zip"#,
        expect: .includes(["5.1.0", "5.1.0-rc2", "2.11.10.1"])),
    .init(file: "jsonfeed-invalid-misspelled-version.json", kind: .json, expect: .fails(.malformed)),
    .init(
        file: "jsonfeed-v1-feedparser-script-in-html.json", kind: .json, select: "items[*].title",
        expect: .exactly(["post 2"])),
    .init(
        file: "jsonfeed-v1-full.json", kind: .json, select: "items[*].title",
        expect: .exactly(["Special #1 - Chris Parrish"])),
    .init(file: "jsonfeed-v11-nonstandard-version-string.json", kind: .json, expect: .exactly(["1.1"])),
    .init(file: "jsonfeed-v11-spec-example.json", kind: .json, select: "items[*].id", expect: .exactly(["2", "1"])),
    .init(file: "maven-metadata-invalid.xml", kind: .text, match: maven, expect: .exactly(["3.0.0-SNAPSHOT"])),
    .init(
        file: "maven-metadata.xml", kind: .text, match: maven,
        expect: .exactly([
            "0.0.1", "1.0.0", "1.0.1", "1.0.2", "1.0.3-SNAPSHOT", "1.0.4-SNAPSHOT", "1.0.5-SNAPSHOT", "2.0.0",
        ])),
    .init(file: "not-a-feed-html-moved.rss", kind: .rss, expect: .fails(.notAFeed)),
    .init(file: "not-a-feed-xml-note.xml", kind: .rss, expect: .fails(.notAFeed)),
    // Only the document is read: the cross-origin `rel=next` (like every link in a feed) is never fetched.
    .init(file: "nuget-v2-odata-cross-origin-next.xml", kind: .text, match: nuget, expect: .exactly(["1.0.0"])),
    .init(file: "nuget-v2-odata-empty.xml", kind: .text, match: nuget, expect: .exactly([])),
    .init(
        file: "nuget-v2-odata-nunit-unordered.xml", kind: .text, match: nuget,
        expect: .includes(["3.11.0", "3.0.0-rc-3", "2.6.0.12054", "2.6.1"])),
    .init(file: "nuget-v2-odata-page1.xml", kind: .text, match: nuget, expect: .exactly(["1.0.0"])),
    .init(file: "nuget-v2-odata-page2.xml", kind: .text, match: nuget, expect: .exactly(["2.0.0"])),
    .init(file: "pypi-json-nltk-yanked.json", kind: .json, select: "info.version", expect: .exactly(["3.7"])),
    .init(
        file: "pypi-json-numpy.json", kind: .text, match: #""(?<version>\d+\.\d+\.\d+)": \["#,
        expect: .exactly(["1.5.0", "1.5.1"])),
    .init(
        file: "pypi-rss-updates.xml", kind: .rss, match: #"^simplemdx (?<version>.+)$"#, expect: .exactly(["0.1.2"])),
    .init(
        file: "pypi-simple-invalid-versions.html", kind: .html,
        match: #">invalid-version-(?<version>[0-9.]*[0-9])\.(tar\.gz|whl)<"#, expect: .exactly(["2.0.1"])),
    .init(
        file: "pypi-simple-pep503-yanked.html", kind: .html,
        match: #"dj-database-url-(?<version>[0-9.]*[0-9])\.tar\.gz"#,
        expect: .includes(["0.1.2", "0.5.0"])),
    .init(file: "pypi-simple-pep691.json", kind: .json, select: "versions[*]", expect: .exactly(["1.5.0", "1.5.1"])),
    .init(
        file: "repology-project-gcc-defaults.json", kind: .json, select: "[*].version",
        expect: .includes(["1.185.1", "1.187", "9", "8"])),
    .init(file: "rss-big5-declared.xml", kind: .rss, expect: .exactly([])),
    .init(file: "rss-bom-plus-invalid-utf8.xml", kind: .rss, expect: .flagged([])),
    .init(
        file: "rss-cp1252-smart-quote-undeclared.xml", kind: .rss, select: "content", expect: .flagged(["don\u{2019}t"])
    ),
    .init(
        file: "rss-double-encoded-html-entities.xml", kind: .rss, select: "content",
        expect: .exactly(["\u{E2}\u{80}\u{A6}"])),
    .init(file: "rss-euc-kr.xml", kind: .rss, expect: .exactly([])),
    .init(file: "rss-html-nbsp-entity.xml", kind: .rss, expect: .exactly([])),
    .init(
        file: "rss-http-charset-overrides-xml-decl.xml", kind: .rss, contentType: "text/xml;charset = us-ascii",
        expect: .exactly([])),
    .init(
        file: "rss-invalid-url-in-guid.xml", kind: .rss, select: "id", expect: .exactly(["http://example.c[o.test/"])),
    .init(file: "rss-iso-8859-7-greek-pubdate.xml", kind: .rss, contentType: "text/xml", expect: .exactly([])),
    .init(
        file: "rss-link-escaped-ampersand-unclosed.xml", kind: .rss, select: "link",
        expect: .flagged(["http://link/get?a=1&b=2"])),
    .init(file: "rss-truncated-cdata.xml", kind: .rss, expect: .flagged([])),
    .init(file: "rss-unclosed-root.xml", kind: .rss, expect: .flagged([])),
    .init(file: "rss-undeclared-namespace-prefix.xml", kind: .rss, expect: .flagged([])),
    .init(file: "rss-utf16le-bom.xml", kind: .rss, expect: .exactly([])),
    .init(
        file: "rss-utf8-linenoise-cdata.xml", kind: .rss, select: "content", match: #"(?<version>[<>])"#,
        expect: .flagged(["<"])),
    .init(file: "rss-with-xhtml-doctype.xml", kind: .rss, expect: .exactly([])),
    .init(file: "rss092-nonrfc822-dates.rss", kind: .rss, expect: .exactly(["The First Item", "The Second Item"])),
    .init(file: "rss10-rdf-sciencemag.rss", kind: .rss, expect: .includes(["Food for fungi", "Bigger and badder"])),
    .init(file: "rss2-atom-pagination-links.rss", kind: .rss, expect: .exactly(["The First Episode"])),
    .init(
        file: "rss2-declared-iso-8859-1-feedburner.rss", kind: .rss,
        expect: .includes(["M\u{E3}e de utente \u{E9} a nova presidente da Rar\u{ED}ssimas"])),
    .init(
        file: "rss2-iso-8859-1-unescaped-ampersand.xml", kind: .rss,
        expect: .includes(["OB er uskarpe - Esbjerg er effektive"])),
    .init(file: "rss2-leading-whitespace.xml", kind: .rss, expect: .exactly([])),
    .init(
        file: "rss2-medium-cdata-content-encoded.rss", kind: .rss,
        expect: .includes(["Eight Reasons You Shouldn\u{2019}t Grow Your Own Food"])),
    .init(
        file: "rss2-no-xml-decl-latin1-bytes.rss", kind: .rss,
        expect: .includes([
            "Dow Jones fecha em baixa de 0,68%", "Rival de Putin \u{E9} condenado a mais 20 dias de pris\u{E3}o",
        ])),
    .init(
        file: "rss2-reddit-single-line.rss", kind: .rss,
        expect: .includes(["Super Crab!", "Bill Cosby wins defamation case"])),
    .init(file: "rss2-utf8-bom.xml", kind: .rss, expect: .exactly([])),
    .init(
        file: "rss20-every-element.xml", kind: .rss, expect: .exactly(["Seventh Heaven! Ryan Hurls Another No Hitter"])),
    .init(
        file: "sourceforge-rss-filezilla.xml", kind: .rss, match: #"^/FileZilla_Client/(?<version>[0-9.]+)/"#,
        expect: .includes(["3.31.0", "3.30.0"])),
    .init(
        file: "sparkle-appcast-basic.xml", kind: .rss, match: sparkle, expect: .exactly(["2.0", "3.0", "4.0", "5.0"])),
    .init(
        file: "sparkle-appcast-channels.xml", kind: .rss, match: sparkle,
        expect: .exactly(["2.0", "3.0", "4.0", "5.0", "6.0", "7.0"])),
    .init(file: "sparkle-appcast-custom-ns-prefix.xml", kind: .rss, match: sparkle, expect: .exactly(["3.0", "2.0"])),
    // Sparkle refuses this appcast for its file:// links; itv never follows a feed's links, only reads versions.
    .init(
        file: "sparkle-appcast-dangerous-links.xml", kind: .rss, match: sparkle,
        expect: .exactly(["3.0", "2.0", "1.0"])),
    .init(
        file: "sparkle-appcast-localized-notes.xml", kind: .rss, match: sparkle,
        expect: .exactly(["6.3", "6.2", "6.1", "6.0"])),
    .init(file: "sparkle-appcast-nvchecker-pinned.xml", kind: .rss, match: sparkle, expect: .exactly(["6.0"])),
    .init(file: "sparkle-appcast-phased-rollout.xml", kind: .rss, match: sparkle, expect: .exactly(["3.0", "2.0"])),
    .init(
        file: "sparkle-appcast-relative-urls.xml", kind: .rss, match: sparkle,
        expect: .exactly(["3.0", "2.0", "1.0", "0.9"])),
    .init(
        file: "sparkle-appcast-template-placeholders.xml", kind: .rss, match: sparkle,
        expect: .exactly(["2.2", "2.1", "2.0"])),
    .init(file: "winget-7zip-16.0.4.singleton.yaml", kind: .text, match: winget, expect: .exactly(["16.0.4"])),
    .init(file: "winget-7zip-19.00.00.0.installer.yaml", kind: .text, match: winget, expect: .exactly(["19.00.00.0"])),
    .init(file: "winget-7zip-24.09.installer.yaml", kind: .text, match: winget, expect: .exactly(["24.09"])),
    .init(file: "winget-7zip-24.09.version.yaml", kind: .text, match: winget, expect: .exactly(["24.09"])),
]

@Suite struct CorpusTests {
    @Test func everyDocumentHasACase() throws {
        let documents = try Corpus.documents()
        #expect(documents.count >= 80)
        let covered = Set(corpusCases.map(\.file))
        for name in documents { #expect(covered.contains(name), "no test case for \(name)") }
    }

    /// The corpus is a verbatim copy: every document is listed in `SOURCES.tsv` with its size and SHA-256, and
    /// matches them (a checkout that converted line endings or an edit "cleaning up" a document shows here).
    @Test func everyDocumentMatchesItsProvenance() throws {
        let table = String(decoding: try Corpus.bytes("SOURCES.tsv"), as: UTF8.self)
        let rows = table.split(separator: "\n").dropFirst().map {
            $0.split(separator: "\t", omittingEmptySubsequences: false)
        }
        var listed: Set<String> = []
        for row in rows {
            guard row.count >= 6 else {
                Issue.record("SOURCES.tsv row with \(row.count) fields: \(row.joined(separator: " | "))")
                continue
            }
            let name = String(row[0])
            listed.insert(name)
            let bytes = try Corpus.bytes(name)
            #expect(String(bytes.count) == row[4], "\(name): \(bytes.count) bytes, SOURCES.tsv says \(row[4])")
            #expect(SHA256.hexDigest(bytes) == row[5], "\(name) is not the document SOURCES.tsv names")
        }
        #expect(listed == Set(try Corpus.documents()), "documents and SOURCES.tsv rows differ")
    }

    @Test(arguments: corpusCases)
    func document(_ c: CorpusCase) throws {
        let bytes = try Corpus.bytes(c.file)
        let clock = ContinuousClock()
        let started = clock.now
        let result = extract(
            bytes, kind: c.kind, select: c.select, match: c.match, contentType: c.contentType, url: c.url)
        #expect(clock.now - started < .seconds(5), "reading \(c.file) took too long")
        switch (c.expect, result) {
        case (.exactly(let want), .success(let got)):
            #expect(got.candidates == want)
        case (.includes(let want), .success(let got)):
            for w in want { #expect(got.candidates.contains(w), "\(w) missing from \(got.candidates.prefix(10))") }
        case (.flagged(let want), .success(let got)):
            #expect(got.candidates == want)
            #expect(!got.warnings.isEmpty, "the sloppiness of \(c.file) is not reported")
        case (.fails(let kind), .failure(let error)):
            #expect(error.kind == kind)
            #expect(!error.message.isEmpty)
        case (.fails, .success(let got)):
            Issue.record("\(c.file) should fail, yielded \(got.candidates)")
        case (_, .failure(let error)):
            Issue.record("\(c.file) failed: \(error)")
        }
    }
}
