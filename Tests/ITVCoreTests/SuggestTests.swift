import Testing

@testable import ITVCore

/// Suggestions and excerpts: the banded distance agrees with the full one, a suggestion among many names is
/// cheap, and an excerpt is short and escaped.
@Suite struct SuggestTests {
    /// A deterministic generator of short texts over a small alphabet (so that close pairs are common).
    struct Texts: IteratorProtocol {
        var state: UInt64
        mutating func next() -> String? {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let length = Int(state >> 60) % 9
            var text = ""
            for k in 0..<length { text.append(["a", "b", "c", "-"][Int((state >> (2 * UInt64(k) + 20)) & 3)]) }
            return text
        }
    }

    @Test func theBandedDistanceAgreesWithTheFullOne() {
        var texts = Texts(state: 7)
        let sample = (0..<300).compactMap { _ in texts.next() }
        for a in sample.prefix(100) {
            for b in sample {
                let full = Suggest.distance(a, b)
                for limit in 0...2 {
                    let banded = Suggest.distance(Array(a.utf8), Array(b.utf8), atMost: limit)
                    #expect(banded == (full <= limit ? full : nil), "'\(a)' '\(b)' limit \(limit): \(full)")
                }
            }
        }
    }

    @Test func aSuggestionIsTheFirstClosestName() {
        #expect(
            Suggest.didYouMean("wokstations", ["servers", "workstations", "workstation"])
                == "; did you mean 'workstations'?")
        #expect(Suggest.didYouMean("abc", ["abd", "abx"]) == "; did you mean 'abd'?")
        #expect(Suggest.didYouMean("zzzzzz", ["workstations"]) == "")
        #expect(Suggest.didYouMean("a", ["b"]) == "")
    }

    /// Ten suggestions (as many as validation looks for per list) among 100,000 names of the same length:
    /// seconds at most, even unoptimized.
    @Test func suggestionsAmongManyNamesAreCheap() {
        let names = (0..<100_000).map { "host-\($0)" }
        let start = ContinuousClock.now
        for i in 0..<10 { _ = Suggest.didYouMean("nohost-\(i)", names) }
        #expect(ContinuousClock.now - start < .seconds(20))
        #expect(Suggest.didYouMean("hots-42", names) == "; did you mean 'host-42'?")
    }

    @Test func anExcerptIsShortAndEscaped() {
        let text = "\u{1B}[2J" + String(repeating: "x", count: 10_000) + "\n"
        let shown = escapedForMessage(text)
        #expect(shown.hasPrefix("\\u{1B}[2J"))
        #expect(shown.hasSuffix("..."))
        #expect(shown.count <= 83)
        #expect(!shown.unicodeScalars.contains { $0.value < 0x20 })
        #expect(Diagnostic(SourceLocation(file: "f\u{7}", line: 1, column: 1), text).description.count < 620)
    }
}
