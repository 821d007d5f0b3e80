/// A step command with `{{version}}`-style placeholders, parsed once when the playbook loads.
///
/// Syntax: `{{name}}` where name is one of ``TemplateVariable`` (`{{ version }}` with spaces or tabs inside
/// is the same). Anything else inside `{{ }}`, an empty `{{}}`, a `{{` without its `}}` and a `}}` without its
/// `{{` are errors. Single braces are plain text (`${HOME}`, `@{a=1}` and `{ ... }` blocks pass through).
///
/// Rendering substitutes every variable as one shell-quoted word (``ShellQuote``), so no value, whatever
/// it holds, can change the command around it. The template's own text is taken verbatim: it comes from
/// the playbook, which is trusted.
public struct CommandTemplate: Hashable, Sendable {
    /// The template exactly as written in the playbook.
    public let source: String
    let segments: [Segment]

    enum Segment: Hashable, Sendable {
        case text(String)
        /// A placeholder and the character offset of its `{{` in `source`.
        case variable(TemplateVariable, offset: Int)
    }

    /// Only `parse` makes templates, so every template in a playbook is a valid one.
    init(source: String, segments: [Segment]) {
        self.source = source
        self.segments = segments
    }

    /// Parses a template; the error says what is wrong and at which character offset.
    public static func parse(_ source: String) -> Result<CommandTemplate, TemplateError> {
        let chars = Array(source)
        var segments: [Segment] = []
        var text = ""
        var i = 0
        func flushText() {
            if !text.isEmpty { segments.append(.text(text)) }
            text = ""
        }
        while i < chars.count {
            let c = chars[i]
            let next: Character? = i + 1 < chars.count ? chars[i + 1] : nil
            if c == "}" && next == "}" {
                return .failure(
                    TemplateError(
                        kind: .strayClose, offset: i,
                        message: "stray }} without an opening {{ (write } } to keep two braces apart)"))
            }
            guard c == "{" && next == "{" else {
                text.append(c)
                i += 1
                continue
            }
            guard let close = closingIndex(in: chars, from: i + 2) else {
                return .failure(
                    TemplateError(kind: .unclosedPlaceholder, offset: i, message: "unclosed {{: no }} follows it"))
            }
            let name = trimmed(String(chars[(i + 2)..<close]))
            if name.isEmpty {
                return .failure(
                    TemplateError(
                        kind: .emptyPlaceholder, offset: i,
                        message: "empty {{}}; known: \(TemplateVariable.knownList)"))
            }
            guard let variable = TemplateVariable(rawValue: name) else {
                return .failure(
                    TemplateError(
                        kind: .unknownVariable, offset: i,
                        message: "unknown template variable {{\(name)}}; known: \(TemplateVariable.knownList)"))
            }
            flushText()
            segments.append(.variable(variable, offset: i))
            i = close + 2
        }
        flushText()
        return .success(CommandTemplate(source: source, segments: segments))
    }

    /// The variables the template uses.
    public var variables: Set<TemplateVariable> {
        var out: Set<TemplateVariable> = []
        for case .variable(let v, _) in segments { out.insert(v) }
        return out
    }

    /// Substitutes every variable shell-quoted for `os` (.linux: POSIX sh; .windows: PowerShell).
    /// Fails when a variable the template uses has no value, or a value contains NUL.
    public func render(_ values: [TemplateVariable: String], for os: OSFamily) -> Result<String, TemplateError> {
        var out = ""
        for segment in segments {
            switch segment {
            case .text(let text):
                out += text
            case .variable(let variable, let offset):
                guard let value = values[variable] else {
                    return .failure(
                        TemplateError(
                            kind: .missingValue, offset: offset,
                            message: "no value for {{\(variable.rawValue)}}"))
                }
                if value.unicodeScalars.contains("\0") {
                    return .failure(
                        TemplateError(
                            kind: .nulInValue, offset: offset,
                            message: "the value for {{\(variable.rawValue)}} contains a NUL character, "
                                + "which no shell command can carry"))
                }
                out += ShellQuote.quote(value, for: os)
            }
        }
        return .success(out)
    }

    /// The index of the first `}}` at or after `start`.
    private static func closingIndex(in chars: [Character], from start: Int) -> Int? {
        var j = start
        while j + 1 < chars.count {
            if chars[j] == "}" && chars[j + 1] == "}" { return j }
            j += 1
        }
        return nil
    }

    private static func trimmed(_ s: String) -> String {
        let blank: Set<Character> = [" ", "\t"]
        return String(s.drop(while: { blank.contains($0) }).reversed().drop(while: { blank.contains($0) }).reversed())
    }
}
