import Foundation
import ITVCore
import ITVEngine
import Testing

@testable import ITVFeeds

/// The channel (or feed) title of a corpus document, read the way the extractor reads it.
private func channelTitle(_ file: String, contentType: String? = nil) throws -> (String?, String) {
    let decoded = try TextDecoding.decode(try Corpus.bytes(file), contentType: contentType).get()
    let root = try XMLReader.parse(decoded.text).get().root
    let title = (root.child("channel") ?? root).child("title")?.innerText
    return (title, decoded.encoding)
}

@Suite struct EncodingTests {
    @Test func eucKRTitleIsDecodedAsDeclared() throws {
        let (title, encoding) = try channelTitle("rss-euc-kr.xml")
        #expect(title == "\u{B144}")
        #expect(encoding == "euc-kr")
    }

    @Test func utf16LittleEndianWithBOM() throws {
        let decoded = try TextDecoding.decode(try Corpus.bytes("rss-utf16le-bom.xml"), contentType: nil).get()
        #expect(decoded.encoding == "utf-16le")
        #expect(try XMLReader.parse(decoded.text).get().root.name == "rss")
    }

    @Test func httpCharsetOverridesTheXMLDeclaration() throws {
        let bytes = try Corpus.bytes("rss-http-charset-overrides-xml-decl.xml")
        let withHeader = try TextDecoding.decode(bytes, contentType: "text/xml;charset = us-ascii").get()
        // us-ascii is read as its superset windows-1252, like browsers do.
        #expect(withHeader.encoding == "windows-1252")
        let bare = try TextDecoding.decode(
            Array("<?xml version=\"1.0\" encoding=\"big5\"?><rss/>".utf8), contentType: "text/xml; charset=utf-8"
        ).get()
        #expect(bare.encoding == "utf-8")
    }

    @Test func declaredBig5AndGreekDecode() throws {
        #expect(
            try TextDecoding.decode(try Corpus.bytes("rss-big5-declared.xml"), contentType: nil).get().encoding
                == "big5")
        let greek = try TextDecoding.decode(
            try Corpus.bytes("rss-iso-8859-7-greek-pubdate.xml"), contentType: "text/xml"
        ).get()
        #expect(greek.text.contains("\u{39C}\u{3AC}\u{3B9}") || greek.text.contains("\u{399}\u{3bf}\u{3cd}\u{3bd}"))
    }

    @Test func utf8DeclaredUnderTextXMLStaysUTF8() throws {
        let (title, _) = try channelTitle("atom03-utf8-but-text-xml-header.xml", contentType: "text/xml")
        #expect(title == "I\u{F1}t\u{EB}rn\u{E2}ti\u{F4}n\u{E0}liz\u{E6}ti\u{F8}n")
    }

    @Test func htmlEntityNbspIsTolerated() throws {
        let (title, _) = try channelTitle("rss-html-nbsp-entity.xml")
        #expect(title == "testing \u{A0} entity")
    }

    @Test func xhtmlDoctypeWithoutEntitiesIsSkipped() throws {
        let (title, _) = try channelTitle("rss-with-xhtml-doctype.xml")
        #expect(title == "found")
    }

    @Test func latin1BytesWithoutDeclarationAreWindows1252() throws {
        let decoded = try TextDecoding.decode(
            Array("<rss><title>caf\u{E9}</title></rss>".unicodeScalars.map { UInt8($0.value) }), contentType: nil
        ).get()
        #expect(decoded.text.contains("caf\u{E9}"))
        #expect(!decoded.warnings.isEmpty)
    }

    @Test func unknownEncodingFailsCleanly() {
        let r = TextDecoding.decode(
            Array("<?xml version=\"1.0\" encoding=\"x-klingon\"?><rss/>".utf8), contentType: nil)
        guard case .failure(let e) = r else {
            Issue.record("an unknown encoding was accepted")
            return
        }
        #expect(e.kind == .encoding)
    }
}

@Suite struct XMLSafetyTests {
    @Test func entityBombIsRefusedQuickly() {
        var doc = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
        for i in 1...9 {
            doc +=
                " <!ENTITY lol\(i) \"" + String(repeating: "&lol\(i - 1 == 0 ? "" : String(i - 1));", count: 10)
                + "\">\n"
        }
        doc += "]>\n<rss><channel><item><title>&lol9;</title></item></channel></rss>"
        let started = ContinuousClock.now
        let r = extract(Array(doc.utf8), kind: .rss)
        #expect(ContinuousClock.now - started < .seconds(5), "an entity bomb is refused at once, not expanded")
        guard case .failure(let e) = r else {
            Issue.record("an entity bomb was accepted")
            return
        }
        #expect(e.kind == .entityDeclarations)
    }

    @Test func externalEntityIsNeverRead() {
        let doc = """
            <?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
            <rss><channel><item><title>&xxe;</title></item></channel></rss>
            """
        guard case .failure(let e) = extract(Array(doc.utf8), kind: .rss) else {
            Issue.record("an external entity declaration was accepted")
            return
        }
        #expect(e.kind == .entityDeclarations)
        // Without a declaration, an undefined entity stays literal text: nothing is read from anywhere.
        let bare = "<rss><channel><item><title>&xxe;</title></item></channel></rss>"
        let x = extract(Array(bare.utf8), kind: .rss)
        #expect((try? x.get().candidates) == ["&xxe;"])
    }

    @Test func deepNestingFailsCleanly() {
        let doc = String(repeating: "<a>", count: 100_000)
        guard case .failure(let e) = extract(Array(doc.utf8), kind: .rss) else {
            Issue.record("100,000 nested elements were accepted")
            return
        }
        #expect(e.kind == .tooDeep)
    }

    @Test func garbageAndTruncationsFailOrRecoverWithinASecond() throws {
        let base = try Corpus.bytes("github-releases-gulp.atom")
        var rng = SystemRandomNumberGenerator()
        let started = ContinuousClock.now
        for cut in stride(from: 0, to: base.count, by: 37) {
            _ = extract(Array(base[..<cut]), kind: .github)
        }
        for _ in 0..<200 {
            var b = base
            for _ in 0..<20 { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            _ = extract(b, kind: .github)
        }
        _ = extract(Array(repeating: UInt8(ascii: "<"), count: 1_000_000), kind: .atom)
        _ = extract(Array(repeating: UInt8(ascii: "&"), count: 1_000_000), kind: .atom)
        _ = extract(Array(("<rss>" + String(repeating: "<!--", count: 200_000)).utf8), kind: .rss)
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    /// 1.5 MB, as many items as a document may list (FeedBounds.maxCandidates): linear time. The bound is
    /// generous for unoptimized builds on a busy machine; `make bench` measures speed.
    @Test func largeValidDocumentParsesInLinearTime() {
        var doc = "<rss><channel>"
        let description = String(repeating: "x &amp; y ", count: 8)
        for i in 0..<FeedBounds.maxCandidates {
            doc += "<item><title>1.\(i).0</title><description>\(description)</description></item>"
        }
        doc += "</channel></rss>"
        let started = ContinuousClock.now
        let r = extract(Array(doc.utf8), kind: .rss)
        #expect(ContinuousClock.now - started < .seconds(15))
        #expect((try? r.get().candidates.count) == FeedBounds.maxCandidates)
    }
}

@Suite struct JSONSafetyTests {
    @Test func deeplyNestedJSONFailsCleanly() {
        let doc = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        let r = extract(Array(doc.utf8), kind: .json, select: "[0]")
        if case .success(let x) = r { #expect(x.candidates.isEmpty) }
    }

    @Test func pathsSelectEveryElementAndRejectNonStrings() throws {
        let doc = #"{"a": {"b": [{"c": "1.0"}, {"c": 2}, {"c": 2.5}, {"c": true}, {"c": null}, {"d": "x"}]}}"#
        let x = try extract(Array(doc.utf8), kind: .json, select: "a.b[*].c").get()
        #expect(x.candidates == ["1.0", "2"])
        #expect(x.rejected.count == 3)
        #expect(try extract(Array(doc.utf8), kind: .json, select: "a.b[0].c").get().candidates == ["1.0"])
        #expect(try extract(Array(doc.utf8), kind: .json, select: #"["a"].b[5].d"#).get().candidates == ["x"])
        guard case .failure(let e) = extract(Array(doc.utf8), kind: .json, select: "a.b[") else {
            Issue.record("a broken path was accepted")
            return
        }
        #expect(e.kind == .badPath)
        guard case .failure(let n) = extract(Array(doc.utf8), kind: .json, select: "a.zzz") else {
            Issue.record("a path selecting nothing succeeded")
            return
        }
        #expect(n.kind == .nothingSelected)
    }
}
