import ITVCore

/// Why a feed document yields no candidates. `kind` is stable (journal, JSON).
public struct FeedParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        case encoding
        case malformed
        case notAFeed = "not_a_feed"
        /// A DOCTYPE declaring entities: refused, never expanded (entity bombs, external entities).
        case entityDeclarations = "entity_declarations"
        case tooDeep = "too_deep"
        case badPath = "bad_path"
        case nothingSelected = "nothing_selected"
        case badPattern = "bad_pattern"
        case missingMatch = "missing_match"
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// A string a feed offered that is not taken as a version, and why (journaled, never run).
public struct RejectedCandidate: Hashable, Sendable {
    /// The offered text, cut to 80 characters and with control characters replaced, for the journal.
    public var shown: String
    public var reason: String

    public init(raw: String, reason: String) {
        var s = String(
            String.UnicodeScalarView(
                raw.unicodeScalars.prefix(80).map { $0.value < 0x20 || $0.value == 0x7F ? "\u{FFFD}" : $0 }))
        if raw.unicodeScalars.count > 80 { s += "... (\(raw.utf8.count) bytes)" }
        self.shown = s
        self.reason = reason
    }
}

/// What a feed document offers: candidate version strings, in document order, before any scheme parses them.
public struct FeedExtraction: Hashable, Sendable {
    public var candidates: [String]
    /// Values the document offered that could not even be candidates (a JSON number, ...).
    public var rejected: [RejectedCandidate]
    /// Sloppiness recovered from (unescaped `&`, an unclosed root, invalid bytes); the feed still counts.
    public var warnings: [String]

    public init(candidates: [String], rejected: [RejectedCandidate] = [], warnings: [String] = []) {
        self.candidates = candidates
        self.rejected = rejected
        self.warnings = warnings
    }
}

/// Reads candidates out of a fetched document under a feed's `kind`, `select` and `match`.
public protocol FeedDocumentParser: Sendable {
    func extract(_ document: FeedDocument, spec: FeedSpec) -> Result<FeedExtraction, FeedParseError>
}
