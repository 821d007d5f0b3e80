/// A version that parsed under its scheme. Only such values may ever reach a command line.
///
/// `==` means "equal under the scheme" (dotted `1.0` == `1.0.0`; semver build metadata ignored; debian `0:1.4` ==
/// `1.4`) and `hash(into:)` agrees with it, so equal versions may have different `raw` texts. `<` is the scheme's
/// order; versions of different schemes are ordered by the scheme's raw value first, so sorting a mixed list is
/// well defined (if meaningless) and never traps.
public struct Version: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let scheme: VersionScheme
    /// Exactly the text that parsed (a leading `v` is kept here).
    public let raw: String
    /// semver: has a pre-release part; pep440: dev, a, b or rc; debian: contains `~`; dotted: contains a
    /// pre-release word (alpha, beta, pre, rc, or any unknown word, as libversion ranks it); date: never.
    public let isPrerelease: Bool
    /// What the scheme compares; `raw` is not part of equality.
    let key: VersionKey

    init(scheme: VersionScheme, raw: String, key: VersionKey, isPrerelease: Bool) {
        self.scheme = scheme
        self.raw = raw
        self.key = key
        self.isPrerelease = isPrerelease
    }

    public var description: String { raw }

    public static func == (lhs: Version, rhs: Version) -> Bool {
        lhs.scheme == rhs.scheme && lhs.key == rhs.key
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(scheme)
        hasher.combine(key)
    }

    public static func < (lhs: Version, rhs: Version) -> Bool {
        if lhs.scheme != rhs.scheme { return lhs.scheme.rawValue < rhs.scheme.rawValue }
        return VersionKey.order(lhs.key, rhs.key) == .ascending
    }
}

/// The three outcomes of comparing two versions of one scheme.
enum VersionOrder: Int8 {
    case ascending = -1
    case same = 0
    case descending = 1

    /// `.same` becomes `next()`: lexicographic chaining.
    func then(_ next: () -> VersionOrder) -> VersionOrder { self == .same ? next() : self }

    static func of<T: Comparable>(_ lhs: T, _ rhs: T) -> VersionOrder {
        lhs < rhs ? .ascending : (lhs == rhs ? .same : .descending)
    }
}

/// The canonical form each scheme compares. Its synthesised `==` must agree with `order(_:_:) == .same`, which is
/// why every key is normalised at parse time (leading zeros stripped, trailing zero components dropped).
enum VersionKey: Hashable, Sendable {
    case dotted(DottedVersion)
    case semver(SemanticVersion)
    case debian(DebianVersion)
    case pep440(PEP440Version)
    case date(DateVersion)

    static func order(_ lhs: VersionKey, _ rhs: VersionKey) -> VersionOrder {
        switch (lhs, rhs) {
        case (.dotted(let a), .dotted(let b)): return DottedVersion.order(a, b)
        case (.semver(let a), .semver(let b)): return SemanticVersion.order(a, b)
        case (.debian(let a), .debian(let b)): return DebianVersion.order(a, b)
        case (.pep440(let a), .pep440(let b)): return PEP440Version.order(a, b)
        case (.date(let a), .date(let b)): return DateVersion.order(a, b)
        default:
            // Version.< compares schemes first and a scheme always makes keys of its own case.
            preconditionFailure("versions of different schemes reached the key comparison")
        }
    }
}

/// A non-negative decimal number of any length, kept as its digits without leading zeros (zero is empty), so
/// that `18446744073709551616` compares correctly and nothing overflows.
struct DecimalNumber: Hashable, Sendable, Comparable, CustomStringConvertible {
    let digits: [UInt8]

    static let zero = DecimalNumber(digits: [])

    init<C: Collection>(digits source: C) where C.Element == UInt8 {
        digits = Array(source.drop { $0 == UInt8(ascii: "0") })
    }

    var isZero: Bool { digits.isEmpty }

    var description: String { digits.isEmpty ? "0" : String(decoding: digits, as: UTF8.self) }

    static func < (lhs: DecimalNumber, rhs: DecimalNumber) -> Bool {
        if lhs.digits.count != rhs.digits.count { return lhs.digits.count < rhs.digits.count }
        return lhs.digits.lexicographicallyPrecedes(rhs.digits)
    }
}

/// A cursor over the bytes of a version text, for the hand-written grammars.
struct ByteScanner {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { position >= bytes.count }
    var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    func peek(_ offset: Int) -> UInt8? {
        let index = position + offset
        return index < bytes.count ? bytes[index] : nil
    }

    /// Consumes a (possibly empty) run of digits and returns it.
    mutating func digits() -> ArraySlice<UInt8> {
        let start = position
        while let byte = current, VersionText.isDigit(byte) { position += 1 }
        return bytes[start..<position]
    }

    /// Consumes `word` (lowercase ASCII) if the input continues with it, ignoring case.
    mutating func consume(_ word: String) -> Bool {
        var offset = 0
        for expected in word.utf8 {
            guard let byte = peek(offset), VersionText.lowercased(byte) == expected else { return false }
            offset += 1
        }
        position += offset
        return true
    }
}
