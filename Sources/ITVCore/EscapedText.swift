// The one escaping rule of itv: untrusted text (host output, feed strings, file contents, directory entries,
// request paths) made safe before it goes into a message, a diagnostic, a journal entry or a terminal.

/// `text` with every scalar that could act on a terminal or hide what it shows escaped, cut to `limit`.
///
/// Rules (one set, for every message of itv):
/// - Escaped: control characters (C0, DEL, C1), format characters (bidirectional marks, embeddings, overrides
///   U+202A-U+202E and isolates U+2066-U+2069, zero-width characters, the byte order mark), line and paragraph
///   separators, private-use and unassigned scalars. These move the cursor, clear the screen, forge a line or
///   reorder what a terminal shows ("Trojan Source").
/// - Printable text stays as it is, `\` and `"` included: they cannot act on a terminal, and leaving them makes the
///   function idempotent (`escapedForMessage(escapedForMessage(x)) == escapedForMessage(x)` within the limit), so
///   that a message can pass it at every layer (a piece, the whole diagnostic, itvd's reply, itvctl's output)
///   without escapes being escaped again. The price: a literal `\n` in the text reads like an escaped newline.
/// - `asciiOnly`: every scalar outside printable ASCII is escaped as well (for text that must be ASCII, such as a
///   version, where a full-width `１` must not pass for `1`). Otherwise printable non-ASCII text (`Ü`, `–`) stays.
/// - Escapes are Swift's (`Unicode.Scalar.escaped(asASCII: true)`): `\n`, `\r`, `\t`, `\0`, `\u{07}`, `\u{1B}`,
///   `\u{7F}`, `\u{009B}`, `\u{202E}`.
/// - At most `limit` scalars are written (80 by default: an excerpt of untrusted input inside a message; whole
///   messages and reports pass a larger limit); a longer text is cut at a character (grapheme cluster) boundary, never
///   inside an escape or a character, and `...` marks the cut (so the result has at most `limit + 3` scalars).
///   The work is bounded by `limit`, not by the length of `text`, except for finding one character's end.
public func escapedForMessage(_ text: String, limit: Int = 80, asciiOnly: Bool = false) -> String {
    escapedExcerpt(text, limit: limit, asciiOnly: asciiOnly).text
}

/// `escapedForMessage`, and whether it cut the text (for a caller that says how long the whole was).
public func escapedExcerpt(_ text: String, limit: Int, asciiOnly: Bool = false) -> (text: String, cut: Bool) {
    var out = ""
    var written = 0
    for character in text {
        var piece = ""
        var pieceScalars = 0
        for scalar in character.unicodeScalars {
            if let escape = messageEscape(scalar, asciiOnly: asciiOnly) {
                piece += escape
                pieceScalars += escape.unicodeScalars.count
            } else {
                piece.unicodeScalars.append(scalar)
                pieceScalars += 1
            }
            if pieceScalars > limit - written { break }
        }
        if pieceScalars > limit - written { return (out + "...", true) }
        out += piece
        written += pieceScalars
    }
    return (out, false)
}

/// How `escapedForMessage` writes one scalar: nil when it is shown as itself, else its escape.
func messageEscape(_ scalar: Unicode.Scalar, asciiOnly: Bool) -> String? {
    let value = scalar.value
    if value >= 0x20 && value < 0x7F { return nil }
    if asciiOnly { return scalar.escaped(asASCII: true) }
    switch scalar.properties.generalCategory {
    case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned:
        return scalar.escaped(asASCII: true)
    default:
        return nil
    }
}
