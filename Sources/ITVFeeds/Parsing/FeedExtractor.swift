import Foundation
import ITVCore
import ITVEngine

/// The parser of every `feed.kind`: decodes the document in its declared encoding, reads it as Atom, RSS,
/// JSON or text, picks `select` from each entry, and keeps what `match`'s group `version` captures.
public struct FeedExtractor: FeedDocumentParser {
    public init() {}

    public func extract(_ document: FeedDocument, spec: FeedSpec) -> Result<FeedExtraction, FeedParseError> {
        let decoded: DecodedText
        switch TextDecoding.decode(document.body, contentType: document.contentType) {
        case .failure(let e): return .failure(e)
        case .success(let d): decoded = d
        }
        let pattern: NSRegularExpression?
        switch Self.compile(spec.match) {
        case .failure(let e): return .failure(e)
        case .success(let p): pattern = p
        }
        var result: Result<FeedExtraction, FeedParseError>
        switch spec.kind {
        case .atom, .rss, .github:
            result = fromXML(decoded.text, spec: spec, url: document.effectiveURL, pattern: pattern)
        case .json:
            result = fromJSON(decoded.text, spec: spec, pattern: pattern)
        case .html, .text:
            guard let pattern else {
                return .failure(
                    FeedParseError(.missingMatch, "a \(spec.kind.rawValue) feed needs `match` with a group `version`"))
            }
            result = Self.allMatches(pattern, in: decoded.text)
        }
        if case .success(var x) = result {
            x.warnings = decoded.warnings + x.warnings
            x.candidates = Self.unique(x.candidates)
            result = .success(x)
        }
        return result
    }

    private func fromXML(
        _ text: String, spec: FeedSpec, url: String, pattern: NSRegularExpression?
    ) -> Result<FeedExtraction, FeedParseError> {
        let doc: XMLReader.Document
        switch XMLReader.parse(text) {
        case .failure(let e): return .failure(e)
        case .success(let d): doc = d
        }
        let entries: [FeedEntry]
        switch FeedEntries.read(doc.root, documentURL: url) {
        case .failure(let e): return .failure(e)
        case .success(let list): entries = list
        }
        let select = spec.select ?? "title"
        guard ["title", "id", "link", "content"].contains(select) else {
            return .failure(FeedParseError(.badPath, "select '\(select)' is not one of title, id, link, content"))
        }
        var collector = Candidates(what: "Atom entries or RSS items")
        for entry in entries {
            let value = spec.kind == .github && spec.select == nil ? entry.githubTag : entry.field(select)
            if let value, let candidate = Self.filter(value, pattern), let error = collector.offer(candidate) {
                return .failure(error)
            }
        }
        return .success(collector.extraction(warnings: doc.warnings))
    }

    private func fromJSON(
        _ text: String, spec: FeedSpec, pattern: NSRegularExpression?
    ) -> Result<FeedExtraction, FeedParseError> {
        let path: JSONPath
        do { path = try JSONPath(parsing: spec.select ?? "version") } catch { return .failure(error) }
        if let error = Self.countJSONValues(text, max: FeedBounds.maxElements) { return .failure(error) }
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            return .failure(
                FeedParseError(.malformed, "the document is not valid JSON (\(error.localizedDescription))"))
        }
        let values = path.evaluate(root)
        guard !values.isEmpty else {
            return .failure(FeedParseError(.nothingSelected, "json path '\(spec.select ?? "version")' selects nothing"))
        }
        var collector = Candidates(what: "values selected by '\(spec.select ?? "version")'")
        for value in values {
            let offered = Self.candidateText(value)
            if offered == nil,
                let error = collector.reject(
                    RejectedCandidate(
                        raw: Self.shortDescription(value), reason: "a JSON \(Self.typeName(value)), not a string"))
            {
                return .failure(error)
            }
            if let offered, let c = Self.filter(offered, pattern), let error = collector.offer(c) {
                return .failure(error)
            }
        }
        var extraction = collector.extraction(warnings: [])
        if let digestSelect = spec.digestSelect {
            extraction.digests = Self.entryDigests(
                root, versionPath: path, digestSelect: digestSelect, pattern: pattern)
        }
        return .success(extraction)
    }

    /// A JSON value as a version candidate: a string, or a whole number; nil for anything else.
    static func candidateText(_ value: Any) -> String? {
        if let s = value as? String { return s }
        if let n = value as? NSNumber, !Self.isBoolean(n), n.doubleValue == n.doubleValue.rounded(),
            abs(n.doubleValue) < 1e15
        {
            return String(n.int64Value)
        }
        return nil
    }

    /// The longest digest text kept from a feed (a SHA-256 is 64 hex digits; the rest is for the message).
    static let maxDigestText = 100

    /// `sha256_from_feed`: for each entry that announces a candidate (the objects holding the key the version
    /// path ends with), what it holds at `digestSelect`, by candidate. Text is kept as given (bounded), other
    /// values as a short description, two entries of one candidate that disagree as a marker that says so:
    /// the artifact's verification refuses all but 64 hex digits. A version path that does not end with a
    /// key has no entries: every release is then refused with "no SHA-256".
    static func entryDigests(_ root: Any, versionPath: JSONPath, digestSelect: String, pattern: NSRegularExpression?)
        -> [String: String]
    {
        guard case .key(let key) = versionPath.steps.last, let digestPath = try? JSONPath(parsing: digestSelect)
        else { return [:] }
        var entryPath = versionPath
        entryPath.steps.removeLast()
        var digests: [String: String] = [:]
        for case let entry as [String: Any] in entryPath.evaluate(root).prefix(FeedBounds.maxCandidates) {
            guard let value = entry[key], let text = candidateText(value), let candidate = filter(text, pattern),
                let found = digestPath.evaluate(entry).first
            else { continue }
            let digest =
                (found as? String).map { String($0.prefix(maxDigestText)) } ?? "(\(shortDescription(found)))"
            if let earlier = digests[candidate], earlier != digest {
                digests[candidate] = "(two entries of \(candidate) give different values)"
            } else {
                digests[candidate] = digest
            }
        }
        return digests
    }

    /// Counts the values of a JSON text (commas and openings outside strings) without building anything:
    /// a document with more than `max` is refused before JSONSerialization holds it all in memory.
    static func countJSONValues(_ text: String, max: Int) -> FeedParseError? {
        var count = 1
        var inString = false
        var escaped = false
        for byte in text.utf8 {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == 0x5C {
                    escaped = true
                } else if byte == 0x22 {
                    inString = false
                }
                continue
            }
            switch byte {
            case 0x22: inString = true
            case 0x2C, 0x5B, 0x7B: count += 1
            default: continue
            }
            if count > max {
                return FeedParseError(.tooManyElements, "the document holds more than \(max) JSON values; refused")
            }
        }
        return nil
    }

    /// A JSON value in a few words, for a rejection: containers by their size, never spelled out.
    static func shortDescription(_ value: Any) -> String {
        if let a = value as? [Any] { return "an array of \(a.count) values" }
        if let o = value as? [String: Any] { return "an object of \(o.count) keys" }
        if value is NSNull { return "null" }
        return String("\(value)".prefix(FeedBounds.maxCandidateBytes))
    }

    static func compile(_ match: String?) -> Result<NSRegularExpression?, FeedParseError> {
        guard let match else { return .success(nil) }
        guard match.contains("(?<version>") else {
            return .failure(FeedParseError(.badPattern, "match '\(match)' has no named group `version`"))
        }
        do { return .success(try NSRegularExpression(pattern: match)) } catch {
            return .failure(FeedParseError(.badPattern, "match '\(match)' is not a valid regular expression"))
        }
    }

    /// A candidate under `match`: what group `version` captured, or nil when it does not match.
    static func filter(_ value: String, _ pattern: NSRegularExpression?) -> String? {
        guard let pattern else { return value }
        let ns = value as NSString
        guard let m = pattern.firstMatch(in: value, range: NSRange(location: 0, length: ns.length)) else { return nil }
        let r = m.range(withName: "version")
        return r.location == NSNotFound ? nil : ns.substring(with: r)
    }

    /// What group `version` captures at every match, in order; stops at the first match over the bound, and
    /// takes only the first bytes of a capture too long to be a version.
    static func allMatches(_ pattern: NSRegularExpression, in text: String) -> Result<FeedExtraction, FeedParseError> {
        let ns = text as NSString
        var collector = Candidates(what: "matches of feed.match")
        var failure: FeedParseError?
        pattern.enumerateMatches(in: text, range: NSRange(location: 0, length: ns.length)) { m, _, stop in
            guard let m else { return }
            let r = m.range(withName: "version")
            guard r.location != NSNotFound else { return }
            if r.length > FeedBounds.maxCandidateBytes {
                let head = ns.substring(with: NSRange(location: r.location, length: 100))
                failure = collector.reject(
                    RejectedCandidate(
                        raw: head, totalBytes: r.length,
                        reason: "longer than \(ReleaseSelector.maxLength) characters"))
            } else {
                failure = collector.offer(ns.substring(with: r))
            }
            if failure != nil { stop.pointee = true }
        }
        if let failure { return .failure(failure) }
        return .success(collector.extraction(warnings: []))
    }

    /// Candidates as a document offers them, bounded: at most `FeedBounds.maxCandidates` offered (else the
    /// document is refused), and a candidate longer than `FeedBounds.maxCandidateBytes` kept only as a rejection.
    struct Candidates {
        let what: String
        var candidates: [String] = []
        var rejected: [RejectedCandidate] = []
        var offered = 0

        /// Counts one offer; the error once there are too many.
        private mutating func count() -> FeedParseError? {
            offered += 1
            guard offered > FeedBounds.maxCandidates else { return nil }
            return FeedParseError(
                .tooManyCandidates,
                "the document lists more than \(FeedBounds.maxCandidates) candidate versions (\(what)); refused")
        }

        mutating func offer(_ candidate: String) -> FeedParseError? {
            if let error = count() { return error }
            let bytes = candidate.utf8.count
            if bytes > FeedBounds.maxCandidateBytes {
                rejected.append(
                    RejectedCandidate(
                        raw: String(candidate.prefix(100)), totalBytes: bytes,
                        reason: "longer than \(ReleaseSelector.maxLength) characters"))
            } else {
                candidates.append(candidate)
            }
            return nil
        }

        mutating func reject(_ candidate: RejectedCandidate) -> FeedParseError? {
            if let error = count() { return error }
            rejected.append(candidate)
            return nil
        }

        func extraction(warnings: [String]) -> FeedExtraction {
            FeedExtraction(candidates: candidates, rejected: rejected, warnings: warnings)
        }
    }

    static func unique(_ list: [String]) -> [String] {
        var seen = Set<String>()
        return list.filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    private static func isBoolean(_ n: NSNumber) -> Bool {
        let t = String(cString: n.objCType)
        return t == "c" || t == "B"
    }

    private static func typeName(_ v: Any) -> String {
        if v is [Any] { return "array" }
        if v is [String: Any] { return "object" }
        if v is NSNull { return "null" }
        if let n = v as? NSNumber { return Self.isBoolean(n) ? "boolean" : "number" }
        return "value"
    }
}
