import Foundation
import ITVCore

/// How YAML 1.1 tools (PyYAML, Ansible, older libraries) would read a plain scalar. A plain value that
/// YAML reads as a boolean or number where we expect text is almost always a mistake (`yes`, `1.10`,
/// `010`, `22:22`), so the loader asks for quotes instead of guessing.
enum YAML11 {
    enum Kind { case null, bool, number, string }

    static let booleans: Set<String> = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF",
    ]

    static func classify(_ text: String) -> Kind {
        if ["", "~", "null", "Null", "NULL"].contains(text) { return .null }
        if booleans.contains(text) { return .bool }
        return isNumber(text) ? .number : .string
    }

    /// Integers (decimal, 0b, 0x, 0-octal, sexagesimal), floats (with `.` or exponent), .inf and .nan.
    static func isNumber(_ text: String) -> Bool {
        var body = Substring(text)
        if let first = body.first, first == "+" || first == "-" { body = body.dropFirst() }
        if [".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"].contains(body) { return true }
        guard !body.isEmpty else { return false }
        func all(_ s: Substring, _ ok: (Character) -> Bool) -> Bool { !s.isEmpty && s.allSatisfy(ok) }
        let digitOrUnderscore: (Character) -> Bool = { $0.asciiDigit != nil || $0 == "_" }
        if body.hasPrefix("0b") { return all(body.dropFirst(2)) { $0 == "0" || $0 == "1" || $0 == "_" } }
        if body.hasPrefix("0x") { return all(body.dropFirst(2)) { $0.isHexDigit && $0.isASCII || $0 == "_" } }
        if all(body, digitOrUnderscore) { return body.first?.asciiDigit != nil }
        // Sexagesimal: 1:30, 190:20:30 (and with a fractional part).
        let colonParts = body.split(separator: ":", omittingEmptySubsequences: false)
        if colonParts.count > 1 {
            let head = colonParts.dropLast()
            guard let last = colonParts.last else { return false }
            let headOK = head.allSatisfy { all($0, digitOrUnderscore) }
            let lastNumber = last.split(separator: ".", omittingEmptySubsequences: false)
            let lastOK =
                lastNumber.count <= 2 && lastNumber.allSatisfy { $0.isEmpty || all($0, digitOrUnderscore) }
                && !(lastNumber.first?.isEmpty ?? true)
            return headOK && lastOK
        }
        // Floats: digits with one dot and/or an exponent.
        var mantissa = body
        if let e = body.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            var exponent = body[body.index(after: e)...]
            if let sign = exponent.first, sign == "+" || sign == "-" { exponent = exponent.dropFirst() }
            guard all(exponent, { $0.asciiDigit != nil }) else { return false }
            mantissa = body[..<e]
        }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, parts.contains(where: { !$0.isEmpty }) else { return false }
        guard parts.count == 2 || mantissa.count < body.count else { return false }
        return parts.allSatisfy { $0.isEmpty || all($0, digitOrUnderscore) }
    }

    /// What a number-looking value would become, for the error message (`1.10` -> `1.1`).
    static func numericReading(_ text: String) -> String {
        if let d = Double(text.replacingOccurrences(of: "_", with: "")) {
            if d == d.rounded(), abs(d) < 1e15, !text.contains("."), !text.lowercased().contains("e") {
                if text.count > 1, text.hasPrefix("0"), let octal = Int(text.dropFirst(), radix: 8) {
                    return "\(octal) (octal)"
                }
                return String(Int(d))
            }
            return String(d)
        }
        return "a number"
    }
}
