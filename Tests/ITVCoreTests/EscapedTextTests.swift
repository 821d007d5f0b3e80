import ITVCore
import Testing

/// Scalars that must never reach a terminal as themselves.
private func isDangerous(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned: true
    default: false
    }
}

@Suite("escapedForMessage: the one escaping rule")
struct EscapedTextTests {
    @Test func controlCharactersDelAndC1AreEscaped() {
        for value in Array(0x00...0x1F) + [0x7F] + Array(0x80...0x9F) {
            let scalar = Unicode.Scalar(UInt32(value))!
            let shown = escapedForMessage("a\(Character(scalar))b")
            #expect(shown.hasPrefix("a\\") && shown.hasSuffix("b"), "\(value): \(shown)")
            #expect(shown.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }, "\(value)")
        }
        #expect(escapedForMessage("1.0\u{1b}[2J\r\nx\t\0") == "1.0\\u{1B}[2J\\r\\nx\\t\\0")
        #expect(escapedForMessage("\u{7}\u{7F}\u{85}\u{9B}") == "\\u{07}\\u{7F}\\u{0085}\\u{009B}")
    }

    @Test func bidiOverridesIsolatesAndInvisibleCharactersAreEscaped() {
        for value in [0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069] {
            let scalar = Unicode.Scalar(UInt32(value))!
            let shown = escapedForMessage("x\(Character(scalar))y")
            #expect(shown == "x\\u{\(String(value, radix: 16, uppercase: true))}y")
        }
        // Zero-width space, soft hyphen, byte order mark, line and paragraph separators, private use.
        #expect(
            escapedForMessage("a\u{200B}\u{AD}\u{FEFF}\u{2028}\u{2029}\u{E000}b")
                == "a\\u{200B}\\u{00AD}\\u{FEFF}\\u{2028}\\u{2029}\\u{E000}b")
    }

    /// Every scalar of the Basic Multilingual Plane: what comes out holds nothing that acts on a terminal.
    @Test func noDangerousScalarPassesAnywhereInTheBMP() {
        for value in UInt32(0)...0xFFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }  // surrogates are not scalars
            let shown = escapedForMessage(String(Character(scalar)))
            #expect(!shown.unicodeScalars.contains(where: isDangerous), "U+\(String(value, radix: 16))")
            let ascii = escapedForMessage(String(Character(scalar)), asciiOnly: true)
            #expect(ascii.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F })
        }
    }

    @Test func printableTextStaysAsItIs() {
        for text in ["Gemeinde Egling an der Paar – Ü", "back\\slash \"quoted\" 'single'", "🇩🇪 e\u{301} 日本", ""] {
            #expect(escapedForMessage(text) == text)
        }
    }

    @Test func asciiOnlyEscapesEveryNonASCIIScalar() {
        #expect(escapedForMessage("\u{FF11}.\u{FF12}", asciiOnly: true) == "\\u{FF11}.\\u{FF12}")
        #expect(escapedForMessage("Ü 1.2\n", asciiOnly: true) == "\\u{00DC} 1.2\\n")
        #expect(escapedForMessage("1.2;id \"x\" \\", asciiOnly: true) == "1.2;id \"x\" \\")
    }

    /// Bytes that are not UTF-8 arrive as U+FFFD (a printable symbol), never as the bytes themselves.
    @Test func invalidUTF8IsShownAsReplacementCharacters() {
        let text = String(decoding: [0x66, 0xFF, 0xC3, 0x28, 0x1B, 0xED, 0xA0, 0x80], as: UTF8.self)
        let shown = escapedForMessage(text)
        #expect(shown.hasPrefix("f\u{FFFD}"))
        #expect(shown.contains("\\u{1B}"))
        #expect(!shown.unicodeScalars.contains(where: isDangerous))
        #expect(escapedForMessage(text, asciiOnly: true).hasPrefix("f\\u{FFFD}"))
    }

    @Test func theLimitCutsAtACharacterBoundaryAndNeverInsideAnEscape() {
        #expect(escapedForMessage(String(repeating: "x", count: 10), limit: 4) == "xxxx...")
        #expect(escapedForMessage("xxxx", limit: 4) == "xxxx")
        // A combining accent stays with its letter; a flag (two scalars) is never halved.
        #expect(escapedForMessage(String(repeating: "e\u{301}", count: 10), limit: 5) == "e\u{301}e\u{301}...")
        #expect(escapedForMessage("🇩🇪🇩🇪🇩🇪", limit: 3) == "🇩🇪...")
        // An escape counts its length and is written whole or not at all.
        #expect(escapedForMessage(String(repeating: "\u{1B}", count: 10), limit: 8) == "\\u{1B}...")
        #expect(escapedForMessage(String(repeating: "\u{1B}", count: 10), limit: 5) == "...")
        let cut = escapedExcerpt("abc\u{202E}", limit: 5)
        #expect(cut.text == "abc..." && cut.cut)
        #expect(escapedExcerpt("abc", limit: 5) == ("abc", false))
    }

    @Test func hugeInputIsBoundedByTheLimit() {
        let huge = String(repeating: "\u{1B}[2J\u{202E}x", count: 1_000_000)
        let shown = escapedForMessage(huge, limit: 80)
        #expect(shown.unicodeScalars.count <= 83)
        #expect(shown.hasSuffix("..."))
        // One character of 100,000 combining marks: cut whole, not written in part.
        let zalgo = "a" + String(repeating: "\u{301}", count: 100_000) + "b"
        #expect(escapedForMessage(zalgo, limit: 80) == "...")
        #expect(escapedForMessage(String(repeating: "Ü", count: 1_000_000), limit: 4_096).unicodeScalars.count == 4_099)
    }

    /// A message passes the function at every layer (piece, diagnostic, reply, itvctl) without escapes growing.
    @Test func escapingTwiceChangesNothing() {
        for text in ["1.0\u{1b}[2J\r\n\t", "a\u{202e}b\u{9b}\u{0}", "back\\slash", "\u{FF11}\u{2028}Ü"] {
            let once = escapedForMessage(text)
            #expect(escapedForMessage(once) == once)
            let ascii = escapedForMessage(text, asciiOnly: true)
            #expect(escapedForMessage(ascii, asciiOnly: true) == ascii)
        }
    }
}
