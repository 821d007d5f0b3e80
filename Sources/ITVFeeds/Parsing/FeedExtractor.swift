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
            result = .success(FeedExtraction(candidates: Self.allMatches(pattern, in: decoded.text)))
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
        let values: [String] = entries.compactMap { entry in
            if spec.kind == .github, spec.select == nil { return entry.githubTag }
            return entry.field(select)
        }
        return .success(
            FeedExtraction(candidates: values.compactMap { Self.filter($0, pattern) }, warnings: doc.warnings))
    }

    private func fromJSON(
        _ text: String, spec: FeedSpec, pattern: NSRegularExpression?
    ) -> Result<FeedExtraction, FeedParseError> {
        let path: JSONPath
        do { path = try JSONPath(parsing: spec.select ?? "version") } catch { return .failure(error) }
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
        var candidates: [String] = []
        var rejected: [RejectedCandidate] = []
        for value in values {
            if let s = value as? String {
                if let c = Self.filter(s, pattern) { candidates.append(c) }
            } else if let n = value as? NSNumber, !Self.isBoolean(n), n.doubleValue == n.doubleValue.rounded(),
                abs(n.doubleValue) < 1e15
            {
                if let c = Self.filter(String(n.int64Value), pattern) { candidates.append(c) }
            } else {
                rejected.append(
                    RejectedCandidate(raw: "\(value)", reason: "a JSON \(Self.typeName(value)), not a string"))
            }
        }
        return .success(FeedExtraction(candidates: candidates, rejected: rejected))
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

    static func allMatches(_ pattern: NSRegularExpression, in text: String) -> [String] {
        let ns = text as NSString
        return pattern.matches(in: text, range: NSRange(location: 0, length: ns.length)).compactMap { m in
            let r = m.range(withName: "version")
            return r.location == NSNotFound ? nil : ns.substring(with: r)
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
