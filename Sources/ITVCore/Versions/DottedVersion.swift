/// The `dotted` scheme: Repology's libversion algorithm (repology/libversion, doc/ALGORITHM.md).
///
/// The text splits into alphabetic and numeric runs; `. - _ + ~` separate them. Each run gets a rank, and
/// versions compare run by run, the shorter padded with zeros:
/// pre-release words (alpha, beta, rc, pre..., and any unknown word) < zero < post-release words (post...,
/// patch..., pl, errata) < non-zero numbers < a letter glued to a number and not followed by a digit (`1.0a`).
/// Words compare by their first letter, case-insensitively; numbers numerically at any length.
///
/// The grammar is stricter than libversion's, which accepts anything: an optional `v`, then a digit first,
/// an alphanumeric last, and single separators between runs.
struct DottedVersion: Hashable, Sendable {
    enum Rank: UInt8, Comparable {
        case preRelease = 0
        case zero = 1
        case postRelease = 2
        case nonZero = 3
        case letterSuffix = 4

        static func < (lhs: Rank, rhs: Rank) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// One run. Words keep only their lowercased first letter and numbers their digits, since that is all the
    /// algorithm compares, so that synthesised `==` is "equal under the scheme".
    struct Component: Hashable, Sendable {
        let rank: Rank
        let letter: UInt8
        let number: DecimalNumber

        static let zero = Component(rank: .zero, letter: 0, number: .zero)
    }

    /// The components with trailing zeros dropped (padding makes them meaningless).
    let components: [Component]

    var isPrerelease: Bool { components.contains { $0.rank == .preRelease } }

    static func parse(_ text: [UInt8]) -> Result<DottedVersion, VersionText.Rejection> {
        var body = text[...]
        if let first = body.first, first == UInt8(ascii: "v") || first == UInt8(ascii: "V"),
            let second = body.dropFirst().first, VersionText.isDigit(second)
        {
            body = body.dropFirst()
        }
        guard let first = body.first, VersionText.isDigit(first) else {
            return .failure(.grammar("must start with a digit (after an optional 'v')"))
        }
        guard let last = body.last, VersionText.isAlphanumeric(last) else {
            return .failure(.grammar("must end with a letter or digit"))
        }
        var previousWasSeparator = false
        for byte in body {
            let isSeparator = !VersionText.isAlphanumeric(byte)
            if isSeparator && previousWasSeparator {
                return .failure(.grammar("has two separators in a row"))
            }
            previousWasSeparator = isSeparator
        }
        var components = tokenize(Array(body))
        while components.last == .zero { components.removeLast() }
        return .success(DottedVersion(components: components))
    }

    /// libversion's `get_next_version_component`, applied until the text is used up.
    private static func tokenize(_ bytes: [UInt8]) -> [Component] {
        var components: [Component] = []
        var index = 0
        while index < bytes.count {
            if !VersionText.isAlphanumeric(bytes[index]) {
                index += 1
                continue
            }
            let start = index
            if VersionText.isLetter(bytes[start]) {
                while index < bytes.count, VersionText.isLetter(bytes[index]) { index += 1 }
                let word = bytes[start..<index]
                components.append(
                    Component(rank: rank(ofWord: word), letter: VersionText.lowercased(word[start]), number: .zero)
                )
            } else {
                while index < bytes.count, VersionText.isDigit(bytes[index]) { index += 1 }
                let number = DecimalNumber(digits: bytes[start..<index])
                components.append(Component(rank: number.isZero ? .zero : .nonZero, letter: 0, number: number))
                // A single letter glued to a number and not followed by another alphanumeric: `1.0a`, `1.0a.1`.
                if index < bytes.count, VersionText.isLetter(bytes[index]),
                    index + 1 == bytes.count || !VersionText.isAlphanumeric(bytes[index + 1])
                {
                    let letter = VersionText.lowercased(bytes[index])
                    components.append(Component(rank: .letterSuffix, letter: letter, number: .zero))
                    index += 1
                }
            }
        }
        return components
    }

    private static func rank(ofWord word: ArraySlice<UInt8>) -> Rank {
        let lower = String(decoding: word.map(VersionText.lowercased), as: UTF8.self)
        switch lower {
        case "alpha", "beta", "rc": return .preRelease
        case "pl", "errata": return .postRelease
        default:
            if lower.hasPrefix("pre") { return .preRelease }
            if lower.hasPrefix("post") || lower.hasPrefix("patch") { return .postRelease }
            return .preRelease  // unknown words rank as pre-releases, libversion's default
        }
    }

    static func order(_ lhs: DottedVersion, _ rhs: DottedVersion) -> VersionOrder {
        let count = max(lhs.components.count, rhs.components.count)
        for index in 0..<count {
            let a = index < lhs.components.count ? lhs.components[index] : .zero
            let b = index < rhs.components.count ? rhs.components[index] : .zero
            let result = VersionOrder.of(a.rank, b.rank)
                .then { VersionOrder.of(a.letter, b.letter) }
                .then { VersionOrder.of(a.number, b.number) }
            if result != .same { return result }
        }
        return .same
    }
}
