import Foundation
import ITVCore
import ITVEngine

@testable import ITVFeeds

/// The feed corpus of real-world documents, in the repository at `Tests/ITVFeedsTests/Fixtures/feeds`
/// (provenance in its `README.md` and `SOURCES.tsv`). Found from this file's path, never outside the checkout.
enum Corpus {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/feeds")

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
