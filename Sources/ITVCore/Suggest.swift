/// Helpers for helpful messages: close names, printable text.
public enum Suggest {
    /// ", did you mean 'x'?" when a known name is close (edit distance at most 2), else "".
    public static func didYouMean(_ word: String, _ known: [String]) -> String {
        // Names within distance 2 differ in length by at most 2: a long word (a hostile key) costs nothing.
        guard word.utf8.count <= 256 else { return "" }
        let length = word.count
        let candidates = known.filter { abs($0.count - length) <= 2 }
        let best = candidates.map { ($0, distance(word, $0)) }.min { $0.1 < $1.1 }
        guard let (name, d) = best, d <= 2, d < max(word.count, 1) else { return "" }
        return "; did you mean '\(name)'?"
    }

    public static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// Text with control characters escaped, cut to `limit` (80) characters: safe to print in a diagnostic.
    public static func printable(_ text: String, limit: Int = 80) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit {
                out += "..."
                break
            }
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator:
                let escaped = scalar.escaped(asASCII: true)
                out += escaped
                count += escaped.unicodeScalars.count
            default:
                out.unicodeScalars.append(scalar)
                count += 1
            }
        }
        return out
    }
}
