import Foundation
import ITVCore
import ITVEngine
import Testing

@testable import ITVFeeds

/// Work and memory per feed document are bounded: 10^5 and 10^6 candidates in every kind that can list many
/// are refused as soon as the bound is crossed (in time that does not grow with what follows), 10,000 are
/// read, a candidate too long to be a version is never kept whole, and a document of garbage is journaled
/// a bounded number of times. Times are asserted in orders of magnitude.
@Suite(.serialized) struct FeedBoundsTests {
    enum Kind: String, CaseIterable, Sendable {
        case atom, rss, json, html, text

        var spec: FeedSpec {
            switch self {
            case .atom: FeedSpec(kind: .atom, url: "https://vendor.example/feed", select: "title")
            case .rss: FeedSpec(kind: .rss, url: "https://vendor.example/feed", select: "title")
            case .json: FeedSpec(kind: .json, url: "https://vendor.example/feed", select: "v[*]")
            case .html:
                FeedSpec(kind: .html, url: "https://vendor.example/feed", match: "<li>(?<version>[^<]*)</li>")
            case .text: FeedSpec(kind: .text, url: "https://vendor.example/feed", match: "(?<version>[0-9][0-9.]*)")
            }
        }

        /// A document listing `count` distinct versions (`1.0`, `1.1`, ...), built as bytes: 10^6 entries must
        /// not cost a string per entry (the test would mostly measure itself).
        func document(_ count: Int) -> [UInt8] {
            let (head, before, between, after, tail): (String, String, String, String, String)
            switch self {
            case .atom:
                (head, before, between, after, tail) = (
                    "<?xml version=\"1.0\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n", "<entry><title>", "",
                    "</title></entry>\n", "</feed>\n"
                )
            case .rss:
                (head, before, between, after, tail) = (
                    "<rss version=\"2.0\"><channel>\n", "<item><title>", "", "</title></item>\n", "</channel></rss>\n"
                )
            case .json: (head, before, between, after, tail) = ("{\"v\": [", "\"", ",", "\"", "]}")
            case .html:
                (head, before, between, after, tail) = (
                    "<html><body><ul>\n", "<li>", "", "</li>\n", "</ul></body></html>\n"
                )
            case .text: (head, before, between, after, tail) = ("", "", "", "\n", "")
            }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(count * (before.utf8.count + after.utf8.count + 10) + 100)
            bytes += head.utf8
            var digits = [UInt8](repeating: 0, count: 20)
            for i in 0..<count {
                if i > 0 { bytes += between.utf8 }
                bytes += before.utf8
                bytes += [UInt8(ascii: "1"), UInt8(ascii: ".")]
                var n = i
                var k = digits.count
                repeat {
                    k -= 1
                    digits[k] = UInt8(ascii: "0") + UInt8(n % 10)
                    n /= 10
                } while n > 0
                bytes += digits[k...]
                bytes += after.utf8
            }
            bytes += tail.utf8
            return bytes
        }
    }

    static func extract(_ kind: Kind, _ body: [UInt8]) -> Result<FeedExtraction, FeedParseError> {
        FeedExtractor().extract(FeedDocument(body: body, effectiveURL: "https://vendor.example/feed"), spec: kind.spec)
    }

    static let sizes = [100_000, 1_000_000]

    @Test(arguments: Kind.allCases, sizes)
    func aDocumentWithTooManyCandidatesIsRefused(_ kind: Kind, _ count: Int) {
        let body = kind.document(count)
        let start = ContinuousClock.now
        let result = Self.extract(kind, body)
        let elapsed = ContinuousClock.now - start
        guard case .failure(let error) = result else {
            Issue.record("\(kind) with \(count) candidates was read")
            return
        }
        // JSON counts values before it builds anything; 10^6 values are more than any feed holds.
        let expected: FeedParseError.Kind =
            kind == .json && count > FeedBounds.maxElements ? .tooManyElements : .tooManyCandidates
        #expect(error.kind == expected, "\(error)")
        if error.kind == .tooManyCandidates {
            #expect(error.message.contains("more than 10000 candidate versions"), "\(error.message)")
        }
        #expect(elapsed < .seconds(30), "\(kind) with \(count) candidates took \(elapsed)")
    }

    @Test(arguments: Kind.allCases)
    func tenThousandCandidatesAreRead(_ kind: Kind) throws {
        let extraction = try Self.extract(kind, kind.document(FeedBounds.maxCandidates)).get()
        #expect(extraction.candidates.count == FeedBounds.maxCandidates)
        #expect(extraction.candidates.last == "1.\(FeedBounds.maxCandidates - 1)")
    }

    /// A "version" of a megabyte: rejected with its first bytes and its size, and not kept whole anywhere.
    @Test(arguments: Kind.allCases)
    func aHugeCandidateIsRejectedFromItsFirstBytes(_ kind: Kind) throws {
        let huge = "9." + String(repeating: "1", count: 1_000_000)
        let body: [UInt8]
        switch kind {
        case .atom:
            body = Array(
                "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title>\(huge)</title></entry><entry><title>1.0</title></entry></feed>"
                    .utf8)
        case .rss:
            body = Array(
                "<rss><channel><item><title>\(huge)</title></item><item><title>1.0</title></item></channel></rss>".utf8)
        case .json: body = Array("{\"v\": [\"\(huge)\", \"1.0\"]}".utf8)
        case .html: body = Array("<li>\(huge)</li><li>1.0</li>".utf8)
        case .text: body = Array("\(huge)\n1.0\n".utf8)
        }
        let extraction = try Self.extract(kind, body).get()
        #expect(extraction.candidates == ["1.0"])
        #expect(extraction.rejected.count == 1)
        let shown = extraction.rejected.first?.shown ?? ""
        #expect(shown.hasPrefix("9.111"))
        #expect(shown.hasSuffix("... (1000002 bytes)"), "\(shown)")
        #expect(shown.utf8.count < 120)
    }

    @Test func xmlWithTooManyElementsOrAttributesIsRefused() {
        let elements = "<root>" + String(repeating: "<a/>", count: 300_000) + "</root>"
        guard case .failure(let e1) = XMLReader.parse(elements) else {
            Issue.record("300,000 elements were read")
            return
        }
        #expect(e1.kind == .tooManyElements)
        let attributes = "<root " + (0..<300_000).map { "a\($0)=\"1\"" }.joined(separator: " ") + "/>"
        guard case .failure(let e2) = XMLReader.parse(attributes) else {
            Issue.record("300,000 attributes were read")
            return
        }
        #expect(e2.kind == .tooManyElements)
    }

    @Test func jsonValuesAreCountedOutsideStringsOnly() {
        let commasInStrings = "{\"v\": [\"" + String(repeating: ",[{", count: 500_000) + "\"]}"
        #expect(FeedExtractor.countJSONValues(commasInStrings, max: 1_000) == nil)
        let escapedQuote = "[\"a\\\",b\"" + String(repeating: ",1", count: 10) + "]"
        // The array, the string and ten numbers: 12 values; the comma inside the string is not counted.
        #expect(FeedExtractor.countJSONValues(escapedQuote, max: 11) != nil)
        #expect(FeedExtractor.countJSONValues(escapedQuote, max: 12) == nil)
    }

    /// 5,000 distinct non-versions in one document: 20 are journaled one by one, then one entry counts the
    /// rest. What was journaled is remembered up to 1,000 texts per procedure (memory), so that polling the
    /// same small garbage again journals nothing new, and large garbage at most as much again per poll.
    @Test func rejectionsAreJournaledABoundedNumberOfTimes() async throws {
        let log = EventLog()
        let detector = ReleaseDetector(ledger: MemoryLedger(), sink: log)
        let spec = FeedSpec(kind: .text, url: "https://vendor.example/feed", match: "(?<version>\\S+)")
        let text = (0..<5_000).map { "bad$\($0)" }.joined(separator: "\n")
        let extraction = try FeedExtractor().extract(
            FeedDocument(body: Array(text.utf8), effectiveURL: spec.url), spec: spec
        ).get()
        _ = await detector.feed("app", spec: spec, offered: extraction, at: Date())
        let events = await log.events
        let single = events.filter { if case .candidateRejected = $0 { true } else { false } }
        #expect(single.count == FeedBounds.maxRejectionsReported)
        #expect(events.contains(.candidatesRejected(procedure: "app", count: 5_000 - FeedBounds.maxRejectionsReported)))
        #expect(events.count == FeedBounds.maxRejectionsReported + 1, "\(events.count) events")
        for _ in 0..<3 { _ = await detector.feed("app", spec: spec, offered: extraction, at: Date()) }
        #expect(await log.events.count <= 4 * (FeedBounds.maxRejectionsReported + 1))

        let small = try FeedExtractor().extract(
            FeedDocument(body: Array("bad$1 bad$2 bad$3".utf8), effectiveURL: spec.url), spec: spec
        ).get()
        let quietLog = EventLog()
        let again = ReleaseDetector(ledger: MemoryLedger(), sink: quietLog)
        for _ in 0..<3 { _ = await again.feed("app", spec: spec, offered: small, at: Date()) }
        #expect(await quietLog.events.count == 3)
    }
}
