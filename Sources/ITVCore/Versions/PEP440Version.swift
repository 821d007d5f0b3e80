/// The `pep440` scheme: PEP 440 versions, in their normalised form and in the alternative spellings PEP 440 says
/// tools must accept (`1.0a1`, `1.0.dev1`, `1.0-post1`, `1.0c1`, `v1.0`, upper case), ordered as `packaging` does:
/// epoch, then release (trailing zeros ignored), then dev < pre (a < b < rc) < final < post, and a local version
/// (`+local`) above the same public version.
///
/// Stricter than `packaging` in one way, on purpose: a separator must be followed by something (`1.0b.` and
/// `1.0-rc-` are rejected), and surrounding whitespace is never stripped.
struct PEP440Version: Hashable, Sendable {
    /// Pre-release and dev positions as `packaging`'s comparison key places them (its +/- infinities).
    enum Slot: Hashable, Sendable, Comparable {
        case below
        case at(UInt8, DecimalNumber)
        case above
    }

    enum LocalSegment: Hashable, Sendable {
        case word([UInt8])
        case number(DecimalNumber)
    }

    let epoch: DecimalNumber
    /// Release numbers with trailing zeros dropped.
    let release: [DecimalNumber]
    /// `.below` for a dev release without pre or post part, `.above` for no pre-release, else (a=0 b=1 rc=2, n).
    let pre: Slot
    /// `.below` when absent.
    let post: Slot
    /// `.above` when absent.
    let dev: Slot
    /// `nil` when absent (sorts below any local version).
    let local: [LocalSegment]?
    let isPrerelease: Bool

    static func parse(_ text: [UInt8]) -> Result<PEP440Version, VersionText.Rejection> {
        var scanner = ByteScanner(text)
        if scanner.current == UInt8(ascii: "v") || scanner.current == UInt8(ascii: "V") { scanner.position += 1 }
        var epoch = DecimalNumber.zero
        let epochStart = scanner.position
        let epochDigits = scanner.digits()
        if !epochDigits.isEmpty && scanner.current == UInt8(ascii: "!") {
            epoch = DecimalNumber(digits: epochDigits)
            scanner.position += 1
        } else {
            scanner.position = epochStart
        }
        var release: [DecimalNumber] = []
        let first = scanner.digits()
        if first.isEmpty { return .failure(.grammar("the release must start with a number")) }
        release.append(DecimalNumber(digits: first))
        while scanner.current == UInt8(ascii: "."), let next = scanner.peek(1), VersionText.isDigit(next) {
            scanner.position += 1
            release.append(DecimalNumber(digits: scanner.digits()))
        }
        while release.last?.isZero == true { release.removeLast() }

        var preKind: UInt8?
        var preNumber = DecimalNumber.zero
        let preLabels: [(String, UInt8)] = [
            ("alpha", 0), ("beta", 1), ("preview", 2), ("pre", 2), ("rc", 2), ("a", 0), ("b", 1), ("c", 2),
        ]
        if let (kind, number) = labelled(&scanner, labels: preLabels) {
            preKind = kind
            preNumber = number
        }
        var postNumber: DecimalNumber?
        if scanner.current == UInt8(ascii: "-"), let next = scanner.peek(1), VersionText.isDigit(next) {
            scanner.position += 1
            postNumber = DecimalNumber(digits: scanner.digits())
        } else if let (_, number) = labelled(&scanner, labels: [("post", 0), ("rev", 0), ("r", 0)]) {
            postNumber = number
        }
        let devNumber = labelled(&scanner, labels: [("dev", 0)])?.1
        var local: [LocalSegment]?
        if scanner.current == UInt8(ascii: "+") {
            scanner.position += 1
            switch localSegments(text[scanner.position...]) {
            case .success(let segments): local = segments
            case .failure(let rejection): return .failure(rejection)
            }
            scanner.position = text.count
        }
        guard scanner.isAtEnd else {
            let rest = VersionText.string(text[scanner.position...])
            return .failure(.grammar("cannot read '\(rest)' as a pre, post, dev or +local part"))
        }
        let pre: Slot
        if let preKind {
            pre = .at(preKind, preNumber)
        } else {
            pre = postNumber == nil && devNumber != nil ? .below : .above
        }
        return .success(
            PEP440Version(
                epoch: epoch,
                release: release,
                pre: pre,
                post: postNumber.map { .at(0, $0) } ?? .below,
                dev: devNumber.map { .at(0, $0) } ?? .above,
                local: local,
                isPrerelease: preKind != nil || devNumber != nil
            )
        )
    }

    /// `[-_.]? label [-_.]? digits?` for the first label that matches (longer spellings first); a separator is
    /// consumed only if something follows it, as the PEP's regular expression does. Missing numbers are 0.
    private static func labelled(_ scanner: inout ByteScanner, labels: [(String, UInt8)]) -> (UInt8, DecimalNumber)? {
        let start = scanner.position
        if let byte = scanner.current, isSeparator(byte) { scanner.position += 1 }
        guard let (_, kind) = labels.first(where: { scanner.consume($0.0) }) else {
            scanner.position = start
            return nil
        }
        if let byte = scanner.current, isSeparator(byte), let next = scanner.peek(1), VersionText.isDigit(next) {
            scanner.position += 1
        }
        return (kind, DecimalNumber(digits: scanner.digits()))
    }

    private static func localSegments(_ text: ArraySlice<UInt8>) -> Result<[LocalSegment], VersionText.Rejection> {
        var segments: [LocalSegment] = []
        for part in text.split(omittingEmptySubsequences: false, whereSeparator: isSeparator) {
            guard !part.isEmpty, part.allSatisfy(VersionText.isAlphanumeric) else {
                return .failure(.grammar("the local part after '+' must be letters and digits separated by . - _"))
            }
            if part.allSatisfy(VersionText.isDigit) {
                segments.append(.number(DecimalNumber(digits: part)))
            } else {
                segments.append(.word(part.map(VersionText.lowercased)))
            }
        }
        return .success(segments)
    }

    private static func isSeparator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }

    static func order(_ lhs: PEP440Version, _ rhs: PEP440Version) -> VersionOrder {
        VersionOrder.of(lhs.epoch, rhs.epoch)
            .then { orderRelease(lhs.release, rhs.release) }
            .then { VersionOrder.of(lhs.pre, rhs.pre) }
            .then { VersionOrder.of(lhs.post, rhs.post) }
            .then { VersionOrder.of(lhs.dev, rhs.dev) }
            .then { orderLocal(lhs.local, rhs.local) }
    }

    private static func orderRelease(_ lhs: [DecimalNumber], _ rhs: [DecimalNumber]) -> VersionOrder {
        for index in 0..<max(lhs.count, rhs.count) {
            let a = index < lhs.count ? lhs[index] : .zero
            let b = index < rhs.count ? rhs[index] : .zero
            if a != b { return a < b ? .ascending : .descending }
        }
        return .same
    }

    /// No local part sorts lowest; segments pairwise, words below numbers; a longer list wins a tie.
    private static func orderLocal(_ lhs: [LocalSegment]?, _ rhs: [LocalSegment]?) -> VersionOrder {
        guard let lhs, let rhs else { return VersionOrder.of(lhs == nil ? 0 : 1, rhs == nil ? 0 : 1) }
        for (a, b) in zip(lhs, rhs) {
            let result: VersionOrder
            switch (a, b) {
            case (.number(let x), .number(let y)): result = VersionOrder.of(x, y)
            case (.word, .number): result = .ascending
            case (.number, .word): result = .descending
            case (.word(let x), .word(let y)):
                result = x == y ? .same : (x.lexicographicallyPrecedes(y) ? .ascending : .descending)
            }
            if result != .same { return result }
        }
        return VersionOrder.of(lhs.count, rhs.count)
    }
}
