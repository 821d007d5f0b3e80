/// Quoting of one value as one literal shell word.
///
/// Both quote with single quotes, in which neither shell expands anything: no variables, no command
/// substitution, no globbing, no escapes. The value must not contain NUL (no shell argument can carry
/// it); `CommandTemplate.render` refuses such values before quoting.
public enum ShellQuote {
    /// POSIX `sh`: always single-quoted; each `'` becomes `'\''` (close, escaped quote, reopen).
    /// `it's` becomes `'it'\''s'`.
    public static func posix(_ value: String) -> String {
        var out = "'"
        for scalar in value.unicodeScalars {
            if scalar == "'" {
                out += "'\\''"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        out += "'"
        return out
    }

    /// PowerShell: single-quoted (a verbatim string). PowerShell ends such a string at `'` and also at the
    /// typographic single quotes U+2018, U+2019, U+201A and U+201B; inside the string each of them is
    /// written twice to stand for itself.
    public static func powershell(_ value: String) -> String {
        var out = "'"
        for scalar in value.unicodeScalars {
            out.unicodeScalars.append(scalar)
            if powershellQuotes.contains(scalar) {
                out.unicodeScalars.append(scalar)
            }
        }
        out += "'"
        return out
    }

    /// The characters PowerShell's tokenizer treats as a single quote.
    static let powershellQuotes: Set<Unicode.Scalar> = ["'", "\u{2018}", "\u{2019}", "\u{201A}", "\u{201B}"]

    /// Quotes `value` for the shell of `os`.
    public static func quote(_ value: String, for os: OSFamily) -> String {
        switch os {
        case .linux: return posix(value)
        case .windows: return powershell(value)
        }
    }
}
