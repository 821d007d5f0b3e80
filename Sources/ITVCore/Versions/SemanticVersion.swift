/// The `semver` scheme: Semantic Versioning 2.0.0, grammar per its BNF, order per its section 11. A leading `v`
/// is allowed and ignored; build metadata is checked but ignored by the order and by `==`.
struct SemanticVersion: Hashable, Sendable {
    enum Identifier: Hashable, Sendable {
        case numeric(DecimalNumber)
        case alphanumeric([UInt8])
    }

    let major: DecimalNumber
    let minor: DecimalNumber
    let patch: DecimalNumber
    let preRelease: [Identifier]

    var isPrerelease: Bool { !preRelease.isEmpty }

    static func parse(_ text: [UInt8]) -> Result<SemanticVersion, VersionText.Rejection> {
        var body = text[...]
        if body.first == UInt8(ascii: "v") { body = body.dropFirst() }
        if let plus = body.firstIndex(of: UInt8(ascii: "+")) {
            let build = body[(plus + 1)...]
            if build.isEmpty { return .failure(.grammar("has an empty build metadata after '+'")) }
            for identifier in build.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
                if identifier.isEmpty { return .failure(.grammar("has an empty build metadata identifier")) }
                if identifier.contains(UInt8(ascii: "+")) { return .failure(.grammar("has a second '+'")) }
            }
            body = body[..<plus]
        }
        var preRelease: [Identifier] = []
        if let hyphen = body.firstIndex(of: UInt8(ascii: "-")) {
            let pre = body[(hyphen + 1)...]
            if pre.isEmpty { return .failure(.grammar("has an empty pre-release after '-'")) }
            for identifier in pre.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
                if identifier.isEmpty { return .failure(.grammar("has an empty pre-release identifier")) }
                if identifier.allSatisfy(VersionText.isDigit) {
                    if identifier.count > 1 && identifier.first == UInt8(ascii: "0") {
                        return .failure(.grammar("has a numeric pre-release identifier with a leading zero"))
                    }
                    preRelease.append(.numeric(DecimalNumber(digits: identifier)))
                } else {
                    preRelease.append(.alphanumeric(Array(identifier)))
                }
            }
            body = body[..<hyphen]
        }
        let core = body.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard core.count == 3 else {
            return .failure(.grammar("must have exactly three dot-separated numbers, MAJOR.MINOR.PATCH"))
        }
        var numbers: [DecimalNumber] = []
        for part in core {
            guard !part.isEmpty, part.allSatisfy(VersionText.isDigit) else {
                return .failure(.grammar("MAJOR.MINOR.PATCH must be numbers"))
            }
            if part.count > 1 && part.first == UInt8(ascii: "0") {
                return .failure(.grammar("MAJOR.MINOR.PATCH may not have leading zeros"))
            }
            numbers.append(DecimalNumber(digits: part))
        }
        return .success(
            SemanticVersion(major: numbers[0], minor: numbers[1], patch: numbers[2], preRelease: preRelease))
    }

    static func order(_ lhs: SemanticVersion, _ rhs: SemanticVersion) -> VersionOrder {
        VersionOrder.of(lhs.major, rhs.major)
            .then { VersionOrder.of(lhs.minor, rhs.minor) }
            .then { VersionOrder.of(lhs.patch, rhs.patch) }
            .then { orderPreRelease(lhs.preRelease, rhs.preRelease) }
    }

    /// Section 11.3 and 11.4: no pre-release ranks above any; identifiers pairwise; a longer list wins a tie.
    private static func orderPreRelease(_ lhs: [Identifier], _ rhs: [Identifier]) -> VersionOrder {
        if lhs.isEmpty || rhs.isEmpty { return VersionOrder.of(rhs.count, lhs.count) }
        for (a, b) in zip(lhs, rhs) {
            let result: VersionOrder
            switch (a, b) {
            case (.numeric(let x), .numeric(let y)): result = VersionOrder.of(x, y)
            case (.numeric, .alphanumeric): result = .ascending
            case (.alphanumeric, .numeric): result = .descending
            case (.alphanumeric(let x), .alphanumeric(let y)):
                result = x == y ? .same : (x.lexicographicallyPrecedes(y) ? .ascending : .descending)
            }
            if result != .same { return result }
        }
        return VersionOrder.of(lhs.count, rhs.count)
    }
}
