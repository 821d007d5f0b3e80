/// The `debian` scheme: deb-version(7), `[epoch:]upstream[-revision]`, compared as dpkg does.
///
/// The epoch dominates (missing means 0). Upstream and revision are compared as alternating non-digit and digit
/// runs: in non-digit runs `~` sorts lowest, even below the end of the string, then the end, then letters, then
/// the other characters; digit runs compare numerically. A missing revision equals `0`.
///
/// Stricter than dpkg's parser, on purpose: the epoch is digits only, and the upstream version may not contain
/// `:` (deb-version(7) today; older dpkg allowed it after an epoch).
struct DebianVersion: Hashable, Sendable {
    /// A non-digit run and the digit run after it; a part is a list of these with trailing empty pairs dropped.
    struct Run: Hashable, Sendable {
        let text: [UInt8]
        let number: DecimalNumber

        static let empty = Run(text: [], number: .zero)
    }

    let epoch: DecimalNumber
    let upstream: [Run]
    let revision: [Run]
    let isPrerelease: Bool

    static func parse(_ text: [UInt8]) -> Result<DebianVersion, VersionText.Rejection> {
        var rest = text[...]
        var epoch = DecimalNumber.zero
        if let colon = rest.firstIndex(of: UInt8(ascii: ":")) {
            let digits = rest[..<colon]
            guard !digits.isEmpty, digits.allSatisfy(VersionText.isDigit) else {
                return .failure(.grammar("the epoch before ':' must be a number"))
            }
            epoch = DecimalNumber(digits: digits)
            rest = rest[(colon + 1)...]
            if rest.contains(UInt8(ascii: ":")) { return .failure(.grammar("has more than one ':'")) }
        }
        var upstream = rest
        var revision = ArraySlice<UInt8>()
        if let hyphen = rest.lastIndex(of: UInt8(ascii: "-")) {
            upstream = rest[..<hyphen]
            revision = rest[(hyphen + 1)...]
            if revision.isEmpty { return .failure(.grammar("has an empty revision after the last '-'")) }
        }
        guard let first = upstream.first, VersionText.isDigit(first) else {
            return .failure(.grammar("the upstream version must start with a digit"))
        }
        return .success(
            DebianVersion(
                epoch: epoch,
                upstream: runs(upstream),
                revision: runs(revision),
                isPrerelease: text.contains(UInt8(ascii: "~"))
            )
        )
    }

    private static func runs(_ part: ArraySlice<UInt8>) -> [Run] {
        var result: [Run] = []
        var index = part.startIndex
        while index < part.endIndex {
            let textStart = index
            while index < part.endIndex, !VersionText.isDigit(part[index]) { index += 1 }
            let digitStart = index
            while index < part.endIndex, VersionText.isDigit(part[index]) { index += 1 }
            result.append(
                Run(text: Array(part[textStart..<digitStart]), number: DecimalNumber(digits: part[digitStart..<index])))
        }
        while result.last == .empty { result.removeLast() }
        return result
    }

    static func order(_ lhs: DebianVersion, _ rhs: DebianVersion) -> VersionOrder {
        VersionOrder.of(lhs.epoch, rhs.epoch)
            .then { order(lhs.upstream, rhs.upstream) }
            .then { order(lhs.revision, rhs.revision) }
    }

    /// dpkg's `verrevcmp`, on runs: a missing run is an empty one.
    private static func order(_ lhs: [Run], _ rhs: [Run]) -> VersionOrder {
        for index in 0..<max(lhs.count, rhs.count) {
            let a = index < lhs.count ? lhs[index] : .empty
            let b = index < rhs.count ? rhs[index] : .empty
            for offset in 0..<max(a.text.count, b.text.count) {
                let x = weight(offset < a.text.count ? a.text[offset] : nil)
                let y = weight(offset < b.text.count ? b.text[offset] : nil)
                if x != y { return x < y ? .ascending : .descending }
            }
            if a.number != b.number { return a.number < b.number ? .ascending : .descending }
        }
        return .same
    }

    /// dpkg's `order()`: `~` below the end of the run, letters above it, everything else above letters.
    private static func weight(_ byte: UInt8?) -> Int {
        guard let byte else { return 0 }
        if byte == UInt8(ascii: "~") { return -1 }
        if VersionText.isLetter(byte) { return Int(byte) }
        return Int(byte) + 256
    }
}
