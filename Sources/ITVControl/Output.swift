import Foundation
import ITVCore
import ITVProtocol

/// Human output: aligned tables, local times, escaped untrusted text.
enum Output {
    /// Prints rows as columns aligned on the widest cell; every cell is escaped (control characters).
    static func table(_ header: [String], _ rows: [[String]]) {
        print(tableText(header, rows), terminator: "")
    }

    static func tableText(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows.map { $0.map { escapedForMessage($0, limit: 200) } }
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        var out = ""
        for row in all {
            let cells = row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }
            var line = cells.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    /// `2026-11-27 09:17:58` in local time.
    static func time(_ epochMillis: Int64?) -> String {
        guard let epochMillis else { return "-" }
        return timeFormatter.string(from: Date(timeIntervalSince1970: Double(epochMillis) / 1000))
    }

    /// One formatter for every time printed (making one costs far more than using it: a table of 100,000
    /// audit entries took half a minute). DateFormatter is thread-safe.
    private static let timeFormatter: DateFormatter = {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter
    }()

    /// `1d2h`, `15m`, `0s` (as a playbook writes a time span; `0s` for anything not positive).
    static func span(_ seconds: Int64) -> String { TimeSpan(seconds: max(seconds, 0)).description }

    /// Untrusted text (host output, feed content) with control characters escaped.
    static func safe(_ text: String?) -> String { text.map { escapedForMessage($0, limit: 4_096) } ?? "-" }

    /// Words for phases: `waiting_approval` -> `waiting for approval`.
    static func words(_ raw: String) -> String {
        switch raw {
        case "waiting_approval": return "waiting for approval"
        default: return raw.replacingOccurrences(of: "_", with: " ")
        }
    }

    /// Writes a JSON document to stdout as received (one document, newline-terminated).
    static func json(_ data: Data) {
        var data = data
        if data.last != UInt8(ascii: "\n") { data.append(UInt8(ascii: "\n")) }
        FileHandle.standardOutput.write(data)
    }

    static func json<T: Encodable>(_ value: T) {
        if let data = try? ITVJSON.encode(value, pretty: true) { json(data) }
    }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data(("itvctl: " + message + "\n").utf8))
    }
}
