/// Helpers for helpful messages: close names, printable text.
public enum Suggest {
    /// ", did you mean 'x'?" when a known name is close (edit distance at most 2), else "".
    ///
    /// Linear in the known names and cheap for each: names are compared as bytes without copying, those whose
    /// length differs by more than 2 are skipped, and the distance is computed only within that band.
    public static func didYouMean(_ word: String, _ known: [String]) -> String {
        let w = Array(word.utf8)
        guard w.count <= 256 else { return "" }
        var best: (name: String, distance: Int)?
        var rows = [Int](repeating: 0, count: 2 * (w.count + 4))
        for name in known {
            let limit = min(2, (best?.distance ?? 3) - 1)
            guard limit >= 0, abs(name.utf8.count - w.count) <= limit else { continue }
            var utf8 = name
            let d = utf8.withUTF8 { b in
                w.withUnsafeBufferPointer { a in distance(b, a, atMost: limit, rows: &rows) }
            }
            if let d { best = (name, d) }
        }
        guard let best, best.distance < max(word.count, 1) else { return "" }
        return "; did you mean '\(best.name)'?"
    }

    /// The edit distance of two texts (Levenshtein, on characters).
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

    /// The edit distance of two byte strings when it is at most `limit`, else nil.
    static func distance(_ a: [UInt8], _ b: [UInt8], atMost limit: Int) -> Int? {
        var rows = [Int](repeating: 0, count: 2 * (b.count + 2))
        return a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in distance(a, b, atMost: limit, rows: &rows) }
        }
    }

    /// The banded form: only cells within `limit` of the diagonal are computed, in two rows of `rows` (at
    /// least 2 * (b.count + 1) long), and it stops as soon as a row is all over the limit.
    static func distance(
        _ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, atMost limit: Int, rows: inout [Int]
    ) -> Int? {
        let m = a.count
        let n = b.count
        guard abs(m - n) <= limit else { return nil }
        if m == 0 || n == 0 { return max(m, n) }
        let beyond = limit + 1
        let width = n + 1
        if rows.count < 2 * width { rows = [Int](repeating: 0, count: 2 * width) }
        return rows.withUnsafeMutableBufferPointer { cells -> Int? in
            var previous = 0
            var current = width
            for j in 0...n { cells[j] = min(j, beyond) }
            for i in 1...m {
                cells[current] = min(i, beyond)
                let low = max(1, i - limit)
                let high = min(n, i + limit)
                if low > 1 { cells[current + low - 1] = beyond }
                var rowMinimum = cells[current]
                let ai = a[i - 1]
                var j = low
                while j <= high {
                    let substitution = cells[previous + j - 1] + (ai == b[j - 1] ? 0 : 1)
                    let value = min(cells[previous + j] + 1, cells[current + j - 1] + 1, substitution, beyond)
                    cells[current + j] = value
                    if value < rowMinimum { rowMinimum = value }
                    j += 1
                }
                if high < n { cells[current + high + 1] = beyond }
                if rowMinimum > limit { return nil }
                swap(&previous, &current)
            }
            let result = cells[previous + n]
            return result <= limit ? result : nil
        }
    }
}
