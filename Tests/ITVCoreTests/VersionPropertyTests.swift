import Testing

@testable import ITVCore

/// Generates version strings of one scheme from a seeded generator: small alphabets, so that equal versions
/// with different spellings (leading zeros, trailing zeros, case, separators) come up often.
enum VersionGenerator {
    static func text(_ scheme: VersionScheme, _ random: inout SplitMix64) -> String {
        switch scheme {
        case .dotted: dotted(&random)
        case .semver: semver(&random)
        case .debian: debian(&random)
        case .pep440: pep440(&random)
        case .date: date(&random)
        }
    }

    static let numbers = ["0", "00", "1", "01", "2", "9", "10", "11", "0010", "99999999999999999999999"]

    static func dotted(_ random: inout SplitMix64) -> String {
        let words = ["alpha", "Beta", "rc", "pre", "preview", "post", "patch", "pl", "errata", "a", "b", "z", "git"]
        var text = random.chance(10) ? "v" : ""
        text += random.pick(numbers)
        var lastWasWord = false
        for _ in 0..<Int.random(in: 0...5, using: &random) {
            let word = random.chance(35)
            // Glue a word to a number ("1.0a", "1.0alpha1") or a number to a word; otherwise separate.
            if word == lastWasWord || random.chance(50) { text += random.pick([".", "-", "_", "+", "~", "."]) }
            text += word ? random.pick(words) : random.pick(numbers)
            lastWasWord = word
        }
        return text
    }

    static func semver(_ random: inout SplitMix64) -> String {
        let core = ["0", "1", "2", "10", "11", "18446744073709551616"]
        let pre = ["alpha", "beta", "rc", "0", "1", "2", "11", "M9", "M12", "x-y", "-", "a1", "Alpha"]
        let build = ["001", "build", "sha", "5114f85", "exp", "0"]
        var text = random.chance(20) ? "v" : ""
        text += (0..<3).map { _ in random.pick(core) }.joined(separator: ".")
        if random.chance(60) {
            text +=
                "-" + (0..<Int.random(in: 1...3, using: &random)).map { _ in random.pick(pre) }.joined(separator: ".")
        }
        if random.chance(30) {
            text +=
                "+" + (0..<Int.random(in: 1...2, using: &random)).map { _ in random.pick(build) }.joined(separator: ".")
        }
        return text
    }

    static func debian(_ random: inout SplitMix64) -> String {
        let pieces = ["0", "00", "1", "2", "10", ".", "+", "~", "~~", "a", "b", "deb", "ubuntu", "+dfsg", "-"]
        let revisions = ["0", "00", "1", "2", "13+deb10u5", "1ubuntu1~22.04", "1~", "0.1", "1+b1"]
        var text = random.chance(30) ? random.pick(["0", "1", "2", "00"]) + ":" : ""
        text += random.pick(["0", "1", "2", "10", "01"])
        for _ in 0..<Int.random(in: 0...4, using: &random) { text += random.pick(pieces) }
        if text.hasSuffix("-") || random.chance(50) { text += "-" + random.pick(revisions) }
        return text
    }

    static func pep440(_ random: inout SplitMix64) -> String {
        let separators = ["", ".", "-", "_"]
        func number(_ random: inout SplitMix64) -> String {
            random.chance(20) ? "" : random.pick(["0", "1", "2", "01", "12"])
        }
        var text = random.chance(5) ? "v" : ""
        if random.chance(20) { text += random.pick(["0", "1", "2"]) + "!" }
        text += (0..<Int.random(in: 1...4, using: &random)).map { _ in random.pick(["0", "00", "1", "2", "10"]) }
            .joined(separator: ".")
        if random.chance(40) {
            let label = random.pick(["a", "b", "c", "rc", "alpha", "beta", "pre", "preview", "RC", "A"])
            text += random.pick(separators) + label
            let n = number(&random)
            if !n.isEmpty { text += random.pick(separators) + n }
        }
        if random.chance(30) {
            if random.chance(30) {
                text += "-" + random.pick(["0", "1", "2"])
            } else {
                text += random.pick(separators) + random.pick(["post", "rev", "r", "POST"])
                let n = number(&random)
                if !n.isEmpty { text += random.pick(separators) + n }
            }
        }
        if random.chance(30) {
            text += random.pick(separators) + random.pick(["dev", "DEV"])
            let n = number(&random)
            if !n.isEmpty { text += random.pick(separators) + n }
        }
        if random.chance(25) {
            text +=
                "+"
                + (0..<Int.random(in: 1...3, using: &random)).map { _ in
                    random.pick(["ubuntu", "1", "01", "abc", "2", "Abc"])
                }.joined(separator: random.pick([".", "-", "_"]))
        }
        return text
    }

    static func date(_ random: inout SplitMix64) -> String {
        (0..<Int.random(in: 1...4, using: &random)).map { _ in
            random.pick(["2023", "2024", "02024", "1", "01", "10", "12", "0", "00", "20241105"])
        }.joined(separator: ".")
    }

    /// `count` parsed versions of `scheme`; records an issue for every generated text that does not parse.
    static func pool(_ scheme: VersionScheme, count: Int, seed: UInt64) -> [Version] {
        var random = SplitMix64(seed: seed)
        var versions: [Version] = []
        while versions.count < count {
            let text = self.text(scheme, &random)
            if text.count > VersionScheme.maximumLength || VersionText.looksLikeCommitHash(text) { continue }
            switch scheme.parse(text) {
            case .success(let version): versions.append(version)
            case .failure(let error): Issue.record("generated \(scheme) text did not parse: \(error)")
            }
        }
        return versions
    }
}

private let poolSize = 3_000

@Test("Each scheme is a total order consistent with == and hashing", arguments: VersionScheme.allCases)
func totalOrder(scheme: VersionScheme) {
    let pool = VersionGenerator.pool(scheme, count: poolSize, seed: 0x5EED_0000 + UInt64(scheme.rawValue.count))
    var random = SplitMix64(seed: 42)
    var equalPairs = 0
    var lessPairs = 0
    func checkPair(_ a: Version, _ b: Version) {
        let less = a < b
        let greater = b < a
        let equal = a == b
        #expect([less, greater, equal].filter { $0 }.count == 1, "exactly one of \(a) <, ==, > \(b)")
        #expect(equal == (b == a), "== is symmetric for \(a), \(b)")
        if equal {
            equalPairs += 1
            #expect(a.hashValue == b.hashValue, "\(a) == \(b) but hashes differ")
        }
        if less { lessPairs += 1 }
    }
    for _ in 0..<20_000 { checkPair(random.pick(pool), random.pick(pool)) }
    // Neighbours in sorted order: the pairs most likely to be equal or to disagree.
    let sorted = pool.sorted()
    for (a, b) in zip(sorted, sorted.dropFirst()) {
        checkPair(a, b)
        #expect(!(b < a), "sorted neighbours \(a), \(b) out of order")
    }
    #expect(equalPairs > 50, "the generator produces equal versions with different spellings")
    #expect(lessPairs > 1_000)
    for _ in 0..<20_000 {
        let i = Int.random(in: 0..<sorted.count, using: &random)
        let j = Int.random(in: 0..<sorted.count, using: &random)
        #expect(!(sorted[max(i, j)] < sorted[min(i, j)]), "sorting is consistent with <")
    }
}

@Test("Each scheme's order is transitive", arguments: VersionScheme.allCases)
func transitivity(scheme: VersionScheme) {
    let pool = VersionGenerator.pool(scheme, count: poolSize, seed: 0x7A5_0000 + UInt64(scheme.rawValue.count))
    let sorted = pool.sorted()
    var random = SplitMix64(seed: 7)
    func atMost(_ a: Version, _ b: Version) -> Bool { a < b || a == b }
    for round in 0..<30_000 {
        // Half the triples from anywhere, half from a narrow window of the sorted pool (ties and near-ties).
        let triple: [Version]
        if round.isMultiple(of: 2) {
            triple = (0..<3).map { _ in random.pick(pool) }
        } else {
            let start = Int.random(in: 0..<(sorted.count - 8), using: &random)
            triple = (0..<3).map { _ in sorted[start + Int.random(in: 0..<8, using: &random)] }
        }
        let (a, b, c) = (triple[0], triple[1], triple[2])
        if a < b && atMost(b, c) { #expect(a < c, "\(a) < \(b) <= \(c)") }
        if atMost(a, b) && b < c { #expect(a < c, "\(a) <= \(b) < \(c)") }
        if a == b && b == c { #expect(a == c, "\(a) == \(b) == \(c)") }
    }
}

@Test("parse(raw) of a parsed version round-trips", arguments: VersionScheme.allCases)
func roundTrip(scheme: VersionScheme) throws {
    for version in VersionGenerator.pool(scheme, count: poolSize, seed: 0x0F_0000 + UInt64(scheme.rawValue.count)) {
        let again = try scheme.parse(version.raw).get()
        #expect(again == version)
        #expect(again.raw == version.raw)
        #expect(again.isPrerelease == version.isPrerelease)
        #expect(again.hashValue == version.hashValue)
    }
}

/// Defence in depth: whatever parses, generated or fuzzed, carries only the scheme's characters.
@Test("Only the scheme's characters ever parse", arguments: VersionScheme.allCases)
func onlyAllowedCharactersParse(scheme: VersionScheme) {
    func allowed(_ text: String) -> Bool {
        text.allSatisfy { character in
            guard let ascii = character.asciiValue else { return false }
            if VersionText.isDigit(ascii) { return true }
            if VersionText.isLetter(ascii) { return scheme.allowsLetters }
            return scheme.allowedPunctuation.contains(character)
        }
    }
    let shellMetacharacters: Set<Character> = [
        ";", "&", "|", "$", "`", "'", "\"", "\\", "<", ">", "(", ")", "{", "}", "[", "]", "*", "?", "#", "=", "%",
        "^", ",", "/", "@", " ", "\n", "\t",
    ]
    for scheme in VersionScheme.allCases {
        #expect(scheme.allowedPunctuation.isDisjoint(with: shellMetacharacters))
    }
    let printable =
        (0x20..<0x7F).map { Character(Unicode.Scalar(UInt8($0))) } + ["\n", "\t", "\0", "\u{202E}", "\u{FF11}"]
    var random = SplitMix64(seed: 0xF022)
    let seeds = VersionGenerator.pool(scheme, count: 500, seed: 99).map(\.raw)
    var parsedCount = 0
    for round in 0..<20_000 {
        var text: [Character]
        if round.isMultiple(of: 2) {
            // Mutate a real version: insert, replace or delete one character.
            text = Array(random.pick(seeds))
            let index = Int.random(in: 0...text.count, using: &random)
            switch Int.random(in: 0..<3, using: &random) {
            case 0: text.insert(random.pick(printable), at: index)
            case 1 where index < text.count: text[index] = random.pick(printable)
            default: if index < text.count { text.remove(at: index) }
            }
        } else {
            text = (0..<Int.random(in: 1...8, using: &random)).map { _ in
                random.chance(60) ? random.pick(Array("0123456789.-+~:!_vabr")) : random.pick(printable)
            }
        }
        let string = String(text)
        if case .success(let version) = scheme.parse(string) {
            parsedCount += 1
            #expect(allowed(version.raw), "\(scheme) parsed \(escapedForMessage(string, limit: 80, asciiOnly: true))")
            #expect(version.raw == string)
        }
    }
    #expect(parsedCount > 1_000, "the fuzzer reaches the grammar, not only the character screen")
}
