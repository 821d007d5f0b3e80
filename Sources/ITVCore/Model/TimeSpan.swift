/// A length of time written as `30s`, `15m`, `2h`, `1h30m`, `2d` or `1w` in playbooks and config.
public struct TimeSpan: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public var seconds: Int64

    public init(seconds: Int64) { self.seconds = seconds }

    public static func < (a: TimeSpan, b: TimeSpan) -> Bool { a.seconds < b.seconds }
    public static let zero = TimeSpan(seconds: 0)

    /// Longest accepted span: one year. Longer is surely a typo.
    public static let maximum = TimeSpan(seconds: 366 * 86_400)

    /// Parses `1h30m`-style text. Every number needs a unit; units go from large to small, once each.
    public static func parse(_ text: String) -> TimeSpan? {
        let units: [(Character, Int64)] = [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]
        var total: Int64 = 0
        var digits = ""
        var nextUnit = 0
        var sawPart = false
        for ch in text {
            if let d = ch.asciiDigit {
                digits.append(Character(String(d)))
                if digits.count > 9 { return nil }
                continue
            }
            guard !digits.isEmpty, let n = Int64(digits),
                let idx = units[nextUnit...].firstIndex(where: { $0.0 == ch })
            else { return nil }
            total += n * units[idx].1
            nextUnit = idx + 1
            digits = ""
            sawPart = true
            if nextUnit > units.count { return nil }
        }
        guard digits.isEmpty, sawPart, total <= maximum.seconds else { return nil }
        return TimeSpan(seconds: total)
    }

    public var description: String {
        if seconds == 0 { return "0s" }
        var rest = seconds
        var out = ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3_600), ("m", 60), ("s", 1)] where rest >= size {
            out += "\(rest / size)\(unit)"
            rest %= size
        }
        return out
    }
}

extension Character {
    /// The value of an ASCII digit `0`-`9`; nil for anything else (full-width digits included).
    public var asciiDigit: Int? {
        guard let a = asciiValue, a >= 48, a <= 57 else { return nil }
        return Int(a - 48)
    }
}
