/// A variable a step command may use as `{{name}}`.
public enum TemplateVariable: String, Hashable, Sendable, CaseIterable {
    /// The version being rolled out.
    case version
    /// The version `detect` found on that host before install.
    case previous
    /// The host's inventory name.
    case host
    /// The procedure id.
    case procedure
    /// The path of the staged artifact on the host (only in playbooks with an `artifact:` block).
    case artifact

    /// `{{version}}, {{previous}}, {{host}}, {{procedure}}, {{artifact}}`, for error messages.
    static let knownList = allCases.map { "{{\($0.rawValue)}}" }.joined(separator: ", ")
}

/// Why a template cannot be parsed or rendered, and where in its source.
public struct TemplateError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, stable for programs.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        case unknownVariable = "unknown_variable"
        case emptyPlaceholder = "empty_placeholder"
        case unclosedPlaceholder = "unclosed_placeholder"
        case strayClose = "stray_close"
        case missingValue = "missing_value"
        case nulInValue = "nul_in_value"
    }

    public let kind: Kind
    /// Character offset (0-based, in `Character`s) in the template source where the problem starts.
    public let offset: Int
    public let message: String

    public init(kind: Kind, offset: Int, message: String) {
        self.kind = kind
        self.offset = offset
        self.message = message
    }

    public var description: String { message }
}
