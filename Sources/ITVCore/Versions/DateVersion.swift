/// The `date` scheme: calendar versions (`2024.1.3`, `2024.11`, `20241105`): digit runs separated by single dots,
/// compared numerically left to right, the shorter padded with zeros (`2024.11` == `2024.11.0`).
struct DateVersion: Hashable, Sendable {
    /// The parts with trailing zeros dropped.
    let parts: [DecimalNumber]

    static func parse(_ text: [UInt8]) -> Result<DateVersion, VersionText.Rejection> {
        var parts: [DecimalNumber] = []
        for part in text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard !part.isEmpty else {
                return .failure(.grammar("has an empty part; parts are digits separated by single dots"))
            }
            parts.append(DecimalNumber(digits: part))
        }
        while parts.last?.isZero == true { parts.removeLast() }
        return .success(DateVersion(parts: parts))
    }

    static func order(_ lhs: DateVersion, _ rhs: DateVersion) -> VersionOrder {
        for index in 0..<max(lhs.parts.count, rhs.parts.count) {
            let a = index < lhs.parts.count ? lhs.parts[index] : .zero
            let b = index < rhs.parts.count ? rhs.parts[index] : .zero
            if a != b { return a < b ? .ascending : .descending }
        }
        return .same
    }
}
