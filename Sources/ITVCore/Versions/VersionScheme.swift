/// A procedure's version scheme (`feed.scheme`); "newer" is decided by it, never by string order (see
/// docs/VERSIONS.md).
///
/// Every scheme's grammar is strict: ASCII only, 1...64 characters, no whitespace, no control characters, no shell
/// metacharacters, and only the punctuation its grammar needs (`allowedPunctuation`). A string that does not parse
/// is not a version and must never reach a command line.
public enum VersionScheme: String, Hashable, Sendable, Codable, CaseIterable {
    /// Repology's libversion algorithm; the default.
    case dotted
    /// Semantic Versioning 2.0.0; a leading `v` is allowed.
    case semver
    /// deb-version(7): `[epoch:]upstream[-revision]`.
    case debian
    /// PEP 440, including its accepted alternative spellings.
    case pep440
    /// Calendar versions: digit runs separated by dots (`2024.1.3`, `20241105`).
    case date

    /// The longest text any scheme accepts.
    public static let maximumLength = 64

    /// The non-alphanumeric characters this scheme's grammar may contain. Letters are allowed by every scheme
    /// but `date`; digits by every scheme. Nothing else ever parses.
    public var allowedPunctuation: Set<Character> {
        switch self {
        case .dotted: [".", "-", "_", "+", "~"]
        case .semver: [".", "-", "+"]
        case .debian: [".", "-", "+", "~", ":"]
        case .pep440: [".", "-", "_", "+", "!"]
        case .date: ["."]
        }
    }

    /// Whether the scheme's grammar has letters at all (`date` has none).
    public var allowsLetters: Bool { self != .date }

    /// Parses `text` strictly under this scheme.
    public func parse(_ text: String) -> Result<Version, VersionParseError> {
        if let rejection = VersionText.screen(text, scheme: self) {
            return .failure(
                VersionParseError(scheme: self, input: text, kind: rejection.kind, reason: rejection.reason))
        }
        // `screen` guarantees printable ASCII, so working on bytes is exact.
        let bytes = Array(text.utf8)
        let parsed: Result<(VersionKey, Bool), VersionText.Rejection>
        switch self {
        case .dotted: parsed = DottedVersion.parse(bytes).map { (.dotted($0), $0.isPrerelease) }
        case .semver: parsed = SemanticVersion.parse(bytes).map { (.semver($0), $0.isPrerelease) }
        case .debian: parsed = DebianVersion.parse(bytes).map { (.debian($0), $0.isPrerelease) }
        case .pep440: parsed = PEP440Version.parse(bytes).map { (.pep440($0), $0.isPrerelease) }
        case .date: parsed = DateVersion.parse(bytes).map { (.date($0), false) }
        }
        switch parsed {
        case .success(let (key, isPrerelease)):
            return .success(Version(scheme: self, raw: text, key: key, isPrerelease: isPrerelease))
        case .failure(let rejection):
            return .failure(
                VersionParseError(scheme: self, input: text, kind: rejection.kind, reason: rejection.reason))
        }
    }

    /// The scheme's name as a reason or message uses it: "a semver version", "a pep440 version".
    var article: String {
        switch self {
        case .dotted: "a dotted version"
        case .semver: "a semver version"
        case .debian: "a debian version"
        case .pep440: "a pep440 version"
        case .date: "a date version"
        }
    }
}
