/// The checks every scheme makes before its grammar.
enum VersionText {
    struct Rejection: Error, Hashable {
        var kind: VersionParseError.Kind
        var reason: String

        static func grammar(_ reason: String) -> Rejection { Rejection(kind: .grammar, reason: reason) }
    }

    /// Punctuation that at least one scheme's grammar uses; anything else is forbidden everywhere.
    static let anySchemePunctuation: Set<Character> = [".", "-", "_", "+", "~", ":", "!"]

    /// Rejects what no scheme accepts, then commit hashes, then characters outside `scheme`'s grammar.
    static func screen(_ text: String, scheme: VersionScheme) -> Rejection? {
        if text.isEmpty { return Rejection(kind: .empty, reason: "is empty") }
        let length = text.unicodeScalars.count
        if length > VersionScheme.maximumLength {
            return Rejection(
                kind: .tooLong,
                reason: "is \(length) characters long; a version has at most \(VersionScheme.maximumLength)"
            )
        }
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value < 0x20 || value == 0x7F {
                return Rejection(kind: .controlCharacter, reason: "contains the control character \(shown(scalar))")
            }
            if value > 0x7F {
                return Rejection(kind: .nonASCII, reason: "contains the non-ASCII character \(shown(scalar))")
            }
            if value == 0x20 { return Rejection(kind: .whitespace, reason: "contains a space") }
            let character = Character(scalar)
            if !isAlphanumeric(UInt8(value)) && !anySchemePunctuation.contains(character) {
                return Rejection(
                    kind: .forbiddenCharacter, reason: "contains '\(character)', which no version may contain"
                )
            }
        }
        if looksLikeCommitHash(text) {
            return Rejection(
                kind: .commitHash,
                reason: "looks like a commit hash (hexadecimal letters and digits only); commits are not ordered"
                    + " and are not versions"
            )
        }
        for character in text {
            guard let byte = character.asciiValue else { continue }  // non-ASCII was rejected above
            if isDigit(byte) { continue }
            if isLetter(byte) {
                if scheme.allowsLetters { continue }
                return Rejection(
                    kind: .characterNotInScheme,
                    reason: "contains the letter '\(character)'; \(scheme.article) has only digits and dots"
                )
            }
            if !scheme.allowedPunctuation.contains(character) {
                return Rejection(
                    kind: .characterNotInScheme,
                    reason: "contains '\(character)', which \(scheme.article) may not contain"
                )
            }
        }
        return nil
    }

    /// Seven or more hexadecimal characters with at least one letter and one digit and no separator, optionally
    /// after a `v`: what `git describe` and feeds of snapshots print. `20241105` (digits only) is not one.
    static func looksLikeCommitHash(_ text: String) -> Bool {
        var bytes = Array(text.utf8)
        if bytes.first == UInt8(ascii: "v") || bytes.first == UInt8(ascii: "V") { bytes.removeFirst() }
        guard bytes.count >= 7 else { return false }
        var hasLetter = false
        var hasDigit = false
        for byte in bytes {
            if isDigit(byte) {
                hasDigit = true
            } else if (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
            {
                hasLetter = true
            } else {
                return false
            }
        }
        return hasLetter && hasDigit
    }

    /// One character a version may not contain, as a reason names it (`\n`, `\u{202E}`).
    static func shown(_ scalar: Unicode.Scalar) -> String { escapedForMessage(String(scalar), asciiOnly: true) }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool { isDigit(byte) || isLetter(byte) }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    static func string(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }
}
