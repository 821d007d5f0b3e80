import Testing

@testable import ITVCore

@Test func posixQuoting() {
    #expect(ShellQuote.posix("it's") == "'it'\\''s'")
    #expect(ShellQuote.posix("") == "''")
    #expect(ShellQuote.posix("$(reboot) `x` \"y\" \\ *") == "'$(reboot) `x` \"y\" \\ *'")
    #expect(ShellQuote.posix("''") == "''\\'''\\'''")
    // A quote followed by a combining mark is one Character but still a quote to the shell.
    #expect(ShellQuote.posix("'\u{301}") == "''\\''\u{301}'")
}

@Test func powershellQuoting() {
    #expect(ShellQuote.powershell("it's") == "'it''s'")
    #expect(ShellQuote.powershell("") == "''")
    #expect(ShellQuote.powershell("\u{2018}a\u{2019}") == "'\u{2018}\u{2018}a\u{2019}\u{2019}'")
    #expect(ShellQuote.powershell("\u{201A}\u{201B}") == "'\u{201A}\u{201A}\u{201B}\u{201B}'")
    // Nothing else is special in a PowerShell verbatim string: not $, not the backtick, not double quotes.
    #expect(ShellQuote.powershell("$(Stop-Computer) `n \"$env:X\" ; | \\") == "'$(Stop-Computer) `n \"$env:X\" ; | \\'")
    #expect(ShellQuote.powershell("a\nb") == "'a\nb'")
    // U+201C/U+201D are double quotes, not special in a single-quoted string.
    #expect(ShellQuote.powershell("\u{201C}x\u{201D}") == "'\u{201C}x\u{201D}'")
}

/// Reads one PowerShell single-quoted string token the way PowerShell's tokenizer does: it opens with any
/// single-quote character; inside, a single-quote character followed by another stands for the second,
/// and one that is not followed by another ends the string. Returns the value and what follows the token.
private func readPowerShellVerbatim(_ text: String) -> (value: String, rest: String)? {
    let quotes = ShellQuote.powershellQuotes
    var scalars = Array(text.unicodeScalars)[...]
    guard let first = scalars.first, quotes.contains(first) else { return nil }
    scalars = scalars.dropFirst()
    var value = String.UnicodeScalarView()
    while let c = scalars.first {
        scalars = scalars.dropFirst()
        if quotes.contains(c) {
            guard let next = scalars.first, quotes.contains(next) else {
                var rest = String.UnicodeScalarView()
                rest.append(contentsOf: scalars)
                return (String(value), String(rest))
            }
            scalars = scalars.dropFirst()
            value.append(next)
        } else {
            value.append(c)
        }
    }
    return nil  // unterminated
}

@Test(arguments: hostileValues)
func powershellQuotingRoundTripsByTheTokenizerRules(_ value: String) throws {
    let quoted = ShellQuote.powershell(value)
    let token = try #require(readPowerShellVerbatim(quoted))
    #expect(Array(token.value.unicodeScalars) == Array(value.unicodeScalars))
    #expect(token.rest.isEmpty, "the quoted value must be exactly one string token")
}

@Test func powershellReaderDetectsUnquotedValues() {
    // The rule-based reader would notice a quoting that lets a value escape its string.
    let broken = "'" + "a'; Stop-Computer; '" + "'"
    #expect(readPowerShellVerbatim(broken)?.rest.isEmpty == false)
}
