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

/// Choices on ITVCore's seeded generator, so property tests are reproducible.
extension SplitMix64 {
    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &self) < percent }

    mutating func pick<T>(_ choices: [T]) -> T {
        choices[Int.random(in: 0..<choices.count, using: &self)]
    }
}
