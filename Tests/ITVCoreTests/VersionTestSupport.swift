import Testing

@testable import ITVCore

/// Parses `text` under `scheme`, recording a test issue (with the reason) if it does not parse.
func parsedVersion(_ text: String, _ scheme: VersionScheme, sourceLocation: Testing.SourceLocation = #_sourceLocation)
    -> Version?
{
    switch scheme.parse(text) {
    case .success(let version): return version
    case .failure(let error):
        Issue.record("expected \(text) to parse: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// An ordering line of docs/VERSIONS.md: `versions` strictly ascending, or all equal.
struct OrderingLine: CustomTestStringConvertible, Sendable {
    enum Relation: Sendable { case ascending, equal }

    let scheme: VersionScheme
    let relation: Relation
    let versions: [String]

    static func ascending(_ scheme: VersionScheme, _ versions: String...) -> OrderingLine {
        OrderingLine(scheme: scheme, relation: .ascending, versions: versions)
    }

    static func equal(_ scheme: VersionScheme, _ versions: String...) -> OrderingLine {
        OrderingLine(scheme: scheme, relation: .equal, versions: versions)
    }

    var testDescription: String {
        "\(scheme): " + versions.joined(separator: relation == .ascending ? " < " : " = ")
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, so property tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &self) < percent }

    mutating func pick<T>(_ choices: [T]) -> T {
        choices[Int.random(in: 0..<choices.count, using: &self)]
    }
}
