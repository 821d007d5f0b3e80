/// Why a string is not a version under a scheme. Safe to print and journal: `text` is escaped and cut short.
public struct VersionParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of rule the text broke; stable raw values for journals and the wire.
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        case empty = "empty"
        case tooLong = "too_long"
        case controlCharacter = "control_character"
        case nonASCII = "non_ascii"
        case whitespace = "whitespace"
        /// A character no version of any scheme may contain (shell metacharacters, quotes, ...).
        case forbiddenCharacter = "forbidden_character"
        /// A character other schemes allow but this one's grammar does not.
        case characterNotInScheme = "character_not_in_scheme"
        case commitHash = "commit_hash"
        /// The characters are fine but do not form a version of the scheme.
        case grammar = "grammar"
    }

    public let scheme: VersionScheme
    /// The offending input with control and non-ASCII characters escaped (`\n`, `\u{202E}`; `escapedForMessage`,
    /// ASCII only) and cut to 80 characters with the `...` that marks a cut, safe to print or journal.
    public let text: String
    public let kind: Kind
    /// Why it is not a version, e.g. "contains ';', which no version may contain".
    public let reason: String

    public init(scheme: VersionScheme, input: String, kind: Kind, reason: String) {
        self.scheme = scheme
        self.text = escapedForMessage(input, limit: 77, asciiOnly: true)
        self.kind = kind
        self.reason = reason
    }

    /// `not a semver version: "1.2;id": contains ';', which no version may contain`
    public var description: String { "not \(scheme.article): \"\(text)\": \(reason)" }
}
