import ITVCore

/// The result of loading one file: the value when it is usable, and every problem found.
public struct Loaded<Value> {
    public var value: Value?
    public var diagnostics: [Diagnostic]
    /// What the value holds that is not fresh (an inventory with the kept read of an unreachable directory);
    /// not a problem of the files: the value stands.
    public var warnings: [Diagnostic] = []
    /// The reads of `ldap:` sources made by this load, for the daemon to keep (`DirectoryCache`).
    public var directoryReads: [DirectoryRead] = []

    public init(value: Value?, diagnostics: [Diagnostic]) {
        self.value = value
        self.diagnostics = diagnostics
    }

    /// A value is only trusted when nothing was wrong with its file.
    public var isClean: Bool { value != nil && diagnostics.isEmpty }
}

extension Loaded: Sendable where Value: Sendable {}

/// Typed access to a YAML tree that records a diagnostic for every problem and keeps going, so that a
/// file's problems are all reported at once (the first `maxDiagnostics` of them, and how many more there are).
final class YAMLReader {
    /// Diagnostics kept per file: a hostile file with 100,000 bad keys gets 100 lines, not 100,000.
    static let maxDiagnostics = 100

    private var kept: [Diagnostic] = []
    /// Every problem found, also those not kept.
    private(set) var problems = 0

    /// The diagnostics kept, then one that says how many more problems there were.
    var diagnostics: [Diagnostic] {
        guard problems > kept.count, let last = kept.last else { return kept }
        return kept + [
            Diagnostic(
                last.location,
                "\(problems - kept.count) more problem(s) in this file are not shown (only the first "
                    + "\(Self.maxDiagnostics) are)")
        ]
    }

    func error(_ at: SourceLocation, _ message: String) {
        problems += 1
        if kept.count < Self.maxDiagnostics { kept.append(Diagnostic(at, message)) }
    }

    /// A mapping's entries by key, after checking the keys: every key must be a known plain string, once.
    func mapping(_ node: YNode, _ what: String, known: [String]) -> Fields? {
        guard case .mapping(let entries, let location) = node else {
            error(node.location, "\(what) must be a mapping, found \(node.kindDescription)")
            return nil
        }
        var fields = Fields(location: location)
        for (key, value) in entries {
            guard case .scalar(let k) = key, !k.isNull else {
                error(key.location, "\(what): keys must be plain names, found \(key.kindDescription)")
                continue
            }
            guard known.contains(k.value) else {
                error(
                    k.location,
                    "unknown key '\(escapedForMessage(k.value))' in \(what)\(Suggest.didYouMean(k.value, known))")
                continue
            }
            fields.entries[k.value] = (value, k.location)
        }
        return fields
    }

    /// A mapping whose keys are names chosen by the user (hosts, tenants, windows), in file order.
    func namedEntries(_ node: YNode, _ what: String) -> [(name: String, location: SourceLocation, value: YNode)] {
        if case .scalar(let s) = node, s.isNull { return [] }
        guard case .mapping(let entries, _) = node else {
            error(node.location, "\(what) must be a mapping of names, found \(node.kindDescription)")
            return []
        }
        var result: [(String, SourceLocation, YNode)] = []
        for (key, value) in entries {
            guard let name = string(key, "a name in \(what)") else { continue }
            result.append((name, key.location, value))
        }
        return result
    }

    func string(_ node: YNode, _ what: String) -> String? {
        guard case .scalar(let s) = node else {
            error(node.location, "\(what) must be a string, found \(node.kindDescription)")
            return nil
        }
        if s.isNull {
            error(s.location, "\(what) must be a string, found nothing")
            return nil
        }
        if s.style == .plain, s.tag == nil {
            switch YAML11.classify(s.value) {
            case .bool:
                error(
                    s.location,
                    "\(what): '\(escapedForMessage(s.value))' is read as a boolean by YAML 1.1; quote it if you mean "
                        + "the text")
                return nil
            case .number:
                error(
                    s.location,
                    "\(what): '\(escapedForMessage(s.value))' is read as a number by YAML "
                        + "(\(escapedForMessage(s.value)) may become "
                        + "\(escapedForMessage(YAML11.numericReading(s.value)))); quote it: '\(escapedForMessage(s.value))'"
                )
                return nil
            case .null, .string:
                break
            }
        }
        return s.value
    }

    func bool(_ node: YNode, _ what: String) -> Bool? {
        guard case .scalar(let s) = node, s.style == .plain else {
            error(node.location, "\(what) must be true or false, found \(describe(node))")
            return nil
        }
        switch s.value {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default:
            if YAML11.classify(s.value) == .bool {
                error(
                    s.location,
                    "\(what): '\(escapedForMessage(s.value))' is a boolean only in YAML 1.1; write true or false"
                )
            } else {
                error(s.location, "\(what) must be true or false, found '\(escapedForMessage(s.value))'")
            }
            return nil
        }
    }

    func int(_ node: YNode, _ what: String, range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let s) = node, s.style == .plain, s.tag == nil,
            s.value.count <= 9, s.value.allSatisfy({ $0.asciiDigit != nil }), !s.value.isEmpty,
            !(s.value.hasPrefix("0") && s.value.count > 1), let n = Int(s.value)
        else {
            error(node.location, "\(what) must be a whole number, found \(describe(node))")
            return nil
        }
        guard range.contains(n) else {
            error(s.location, "\(what) must be between \(range.lowerBound) and \(range.upperBound), found \(n)")
            return nil
        }
        return n
    }

    func timeSpan(_ node: YNode, _ what: String) -> TimeSpan? {
        guard case .scalar(let s) = node, !s.isNull else {
            error(node.location, "\(what) must be a duration such as 30s, 15m, 2h or 1d, found \(describe(node))")
            return nil
        }
        guard let span = TimeSpan.parse(s.value) else {
            error(
                s.location,
                "\(what) must be a duration such as 30s, 15m, 2h or 1d (a number needs a unit), "
                    + "found '\(escapedForMessage(s.value))'")
            return nil
        }
        return span
    }

    func enumValue<E: RawRepresentable & CaseIterable>(_ node: YNode, _ what: String, _: E.Type) -> E?
    where E.RawValue == String {
        guard let text = string(node, what) else { return nil }
        guard let value = E(rawValue: text) else {
            let names = E.allCases.map(\.rawValue)
            error(
                node.location,
                "\(what) must be one of \(names.joined(separator: ", ")), found '\(escapedForMessage(text))'"
                    + Suggest.didYouMean(text, names))
            return nil
        }
        return value
    }

    /// A list of strings, each with its location. A lone string is an error: lists are written as lists.
    func stringList(_ node: YNode, _ what: String) -> [Located<String>]? {
        guard case .sequence(let items, _) = node else {
            error(node.location, "\(what) must be a list, found \(describe(node))")
            return nil
        }
        var result: [Located<String>] = []
        for item in items {
            if let s = string(item, "an entry of \(what)") { result.append(Located(s, at: item.location)) }
        }
        return result
    }

    func describe(_ node: YNode) -> String {
        guard case .scalar(let s) = node else { return node.kindDescription }
        if s.isNull { return "nothing" }
        return s.style == .plain ? "'\(escapedForMessage(s.value))'" : "the string \"\(escapedForMessage(s.value))\""
    }
}

/// A checked mapping: its entries by key, with the key's location.
struct Fields {
    var location: SourceLocation
    var entries: [String: (value: YNode, keyLocation: SourceLocation)] = [:]

    subscript(_ key: String) -> YNode? { entries[key]?.value }

    func keyLocation(_ key: String) -> SourceLocation { entries[key]?.keyLocation ?? location }
}
