import Foundation
import ITVCore
import ITVEngine

@testable import ITVFeeds

/// The shared feed corpus: `../shared/fixtures/feeds` beside the checkout, or `$ITV_FEED_FIXTURES`.
enum Corpus {
    static var directory: URL {
        if let env = ProcessInfo.processInfo.environment["ITV_FEED_FIXTURES"] { return URL(fileURLWithPath: env) }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let beside = repo.deletingLastPathComponent().appendingPathComponent("shared/fixtures/feeds")
        if FileManager.default.fileExists(atPath: beside.path) { return beside }
        return URL(fileURLWithPath: "/work/shared/fixtures/feeds")
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func documents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0 != "README.md" && $0 != "SOURCES.tsv" }.sorted()
    }
}

func extract(
    _ bytes: [UInt8], kind: FeedKind, select: String? = nil, match: String? = nil, contentType: String? = nil,
    url: String = "https://vendor.example/feed"
) -> Result<FeedExtraction, FeedParseError> {
    let spec = FeedSpec(kind: kind, url: url, select: select, match: match)
    let doc = FeedDocument(body: bytes, contentType: contentType, effectiveURL: url)
    return FeedExtractor().extract(doc, spec: spec)
}
