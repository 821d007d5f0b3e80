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
        /// More candidate versions than `FeedBounds.maxCandidates`: refused whole, nothing is taken from it.
        case tooManyCandidates = "too_many_candidates"
        /// More XML elements or JSON values than `FeedBounds.maxElements`: refused before it is read into memory.
        case tooManyElements = "too_many_elements"
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// Bounds on the work and memory one feed document may cost, whatever it holds under the 4 MiB body cap.
/// A vendor's feed lists tens or hundreds of releases; beyond these bounds a document is refused whole.
public enum FeedBounds {
    /// Candidate versions per document: Atom entries, RSS items, `match` hits, JSON values selected.
    public static let maxCandidates = 10_000
    /// A candidate longer than this (a version has at most 64 characters) is rejected from its first bytes
    /// and never kept whole.
    public static let maxCandidateBytes = 256
    /// XML elements or JSON values per document, counted before the document is held as a tree.
    public static let maxElements = 200_000
    /// Rejected candidates journaled per document; the rest are counted in one entry.
    public static let maxRejectionsReported = 20
}

/// A string a feed offered that is not taken as a version, and why (journaled, never run).
public struct RejectedCandidate: Hashable, Sendable {
    /// The offered text for the journal: printable ASCII as is, anything else (newlines, bidi overrides,
    /// full-width digits) escaped (`escapedForMessage`, ASCII only), cut after 80 characters.
    public var shown: String
    public var reason: String

    public init(raw: String, reason: String) {
        self.init(raw: raw, totalBytes: raw.utf8.count, reason: reason)
    }

    /// From the first part of a longer text (`totalBytes` long), for candidates too long to be kept whole.
    public init(raw: String, totalBytes: Int, reason: String) {
        let excerpt = escapedExcerpt(raw, limit: 80, asciiOnly: true)
        if excerpt.cut {
            self.shown = excerpt.text + " (\(totalBytes) bytes)"
        } else if raw.utf8.count != totalBytes {
            self.shown = excerpt.text + "... (\(totalBytes) bytes)"
        } else {
            self.shown = excerpt.text
        }
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
    /// `FeedSpec.digestSelect`: by candidate, what its entry holds at that path (a short description for a
    /// value that is not text); a candidate whose entry holds nothing there is absent.
    public var digests: [String: String]

    public init(
        candidates: [String], rejected: [RejectedCandidate] = [], warnings: [String] = [],
        digests: [String: String] = [:]
    ) {
        self.candidates = candidates
        self.rejected = rejected
        self.warnings = warnings
        self.digests = digests
    }
}

/// Reads candidates out of a fetched document under a feed's `kind`, `select` and `match`.
public protocol FeedDocumentParser: Sendable {
    func extract(_ document: FeedDocument, spec: FeedSpec) -> Result<FeedExtraction, FeedParseError>
}
