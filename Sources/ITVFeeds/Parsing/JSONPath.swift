import Foundation
import ITVEngine

/// `select` for json feeds: `a.b[0].c`; `[*]` takes every element (of an array, or every value of an object);
/// `["key.with.dots"]` quotes a key.
public struct JSONPath: Hashable, Sendable {
    public enum Step: Hashable, Sendable {
        case key(String)
        case index(Int)
        case all
    }

    public var steps: [Step]

    public init(parsing text: String) throws(FeedParseError) {
        var steps: [Step] = []
        let s = Array(text.unicodeScalars)
        var i = 0
        func bad(_ why: String) -> FeedParseError { FeedParseError(.badPath, "json path '\(text)': \(why)") }
        while i < s.count {
            if s[i] == "." {
                i += 1
                continue
            }
            if s[i] == "[" {
                guard let close = s[i...].firstIndex(of: "]") else { throw bad("a '[' is not closed") }
                let inner = String(String.UnicodeScalarView(s[(i + 1)..<close]))
                if inner == "*" {
                    steps.append(.all)
                } else if let n = Int(inner), n >= 0 {
                    steps.append(.index(n))
                } else if inner.count >= 2, inner.first == "\"", inner.last == "\"" {
                    steps.append(.key(String(inner.dropFirst().dropLast())))
                } else {
                    throw bad("'[\(inner)]' is neither an index, [*] nor a quoted key")
                }
                i = close + 1
                continue
            }
            var j = i
            while j < s.count, s[j] != ".", s[j] != "[" { j += 1 }
            steps.append(.key(String(String.UnicodeScalarView(s[i..<j]))))
            i = j
        }
        guard !steps.isEmpty else { throw bad("it is empty") }
        self.steps = steps
    }

    /// Every value the path reaches, in document order.
    public func evaluate(_ root: Any) -> [Any] {
        var current: [Any] = [root]
        for step in steps {
            var next: [Any] = []
            for value in current {
                switch step {
                case .key(let k):
                    if let o = value as? [String: Any], let v = o[k] { next.append(v) }
                case .index(let n):
                    if let a = value as? [Any], n < a.count { next.append(a[n]) }
                case .all:
                    if let a = value as? [Any] { next.append(contentsOf: a) }
                    if let o = value as? [String: Any] { next.append(contentsOf: o.keys.sorted().compactMap { o[$0] }) }
                }
            }
            current = next
        }
        return current
    }
}
