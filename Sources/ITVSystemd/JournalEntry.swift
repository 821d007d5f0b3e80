import Foundation
import ITVCore
import Logging

/// One `NAME=value` pair of a journal entry.
public struct JournalField: Hashable, Sendable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A journal entry ready to be written: its fields in order, `MESSAGE` and `PRIORITY` among them.
public struct JournalEntry: Hashable, Sendable {
    public var fields: [JournalField]

    public init(fields: [JournalField]) {
        self.fields = fields
    }

    /// The value of the first field called `name`.
    public subscript(name: String) -> String? {
        fields.first { $0.name == name }?.value
    }
}

/// How swift-log calls become journal entries (docs/TECH-NOTES.md 11 and 12).
public enum JournalFieldMapping {
    /// `SYSLOG_IDENTIFIER` of every entry.
    public static let identifier = "itvd"

    /// syslog priority of a swift-log level (`PRIORITY`): 7 debug ... 2 critical.
    public static func priority(of level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Whether journald keeps a field of this name: `[A-Z0-9_]`, 1 to 64 characters, no leading digit or
    /// underscore. journald silently drops any other field.
    public static func isValidFieldName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count), let first = bytes.first else { return false }
        if first == UInt8(ascii: "_") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) { return false }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
        }
    }

    /// The journal field for a metadata key: `rollout` -> `ITV_ROLLOUT`, `hostGroup` and `host-group` ->
    /// `ITV_HOST_GROUP`; nil when the result would not be a valid field name (such pairs go into MESSAGE).
    public static func fieldName(forMetadataKey key: String) -> String? {
        var snake = ""
        var previousWasLowerOrDigit = false
        for scalar in key.unicodeScalars {
            switch scalar {
            case "a"..."z", "0"..."9":
                snake.unicodeScalars.append(scalar)
                previousWasLowerOrDigit = true
            case "A"..."Z":
                if previousWasLowerOrDigit { snake += "_" }
                snake.unicodeScalars.append(scalar)
                previousWasLowerOrDigit = false
            case "_", "-", ".":
                snake += "_"
                previousWasLowerOrDigit = false
            default:
                return nil
            }
        }
        let name = "ITV_" + snake.uppercased()
        return isValidFieldName(name) && !snake.isEmpty ? name : nil
    }

    /// The entry for one log call. Metadata with a mappable key becomes an `ITV_*` field; metadata `event`
    /// also adds the event's `MESSAGE_ID`; other metadata is appended to MESSAGE as ` key=value`.
    public static func entry(
        level: Logger.Level,
        message: String,
        metadata: Logger.Metadata,
        error: (any Error)? = nil,
        file: String,
        function: String,
        line: UInt
    ) -> JournalEntry {
        var fields: [JournalField] = []
        var unmapped: [String] = []
        var metadata = metadata
        if let error, metadata["error"] == nil {
            metadata["error"] = .string(String(describing: error))
        }
        for key in metadata.keys.sorted() {
            guard let value = metadata[key] else { continue }
            let text = describe(value)
            guard let name = fieldName(forMetadataKey: key) else {
                unmapped.append("\(key)=\(text)")
                continue
            }
            fields.append(JournalField(name, text))
            if name == "ITV_EVENT", let id = ITVEvent(rawValue: text)?.messageID {
                fields.append(JournalField("MESSAGE_ID", id))
            }
        }
        let fullMessage = unmapped.isEmpty ? message : message + " " + unmapped.joined(separator: " ")
        let head = [
            JournalField("MESSAGE", fullMessage),
            JournalField("PRIORITY", String(priority(of: level))),
            JournalField("SYSLOG_IDENTIFIER", identifier),
        ]
        let code = [
            JournalField("CODE_FILE", file),
            JournalField("CODE_LINE", String(line)),
            JournalField("CODE_FUNC", function),
        ]
        return JournalEntry(fields: head + fields + code)
    }

    /// The text of a metadata value as an operator would want to read it.
    static func describe(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        case .array, .dictionary: value.description
        }
    }

    /// The priority as the level name used on stderr.
    static func levelName(priority: String?) -> String {
        switch priority {
        case "7": "DEBUG"
        case "6": "INFO"
        case "5": "NOTICE"
        case "4": "WARNING"
        case "3": "ERROR"
        case "2": "CRITICAL"
        default: "INFO"
        }
    }

    /// One stderr line for an entry (without the newline): `itvd[PID]: LEVEL message NAME=value ...`, with
    /// control characters escaped so that an entry never spans two lines.
    public static func stderrLine(for entry: JournalEntry, pid: Int32) -> String {
        var line = "\(identifier)[\(pid)]: \(levelName(priority: entry["PRIORITY"])) \(escape(entry["MESSAGE"] ?? ""))"
        for field in entry.fields where !["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER"].contains(field.name) {
            line += " \(field.name)=\(quoteIfNeeded(escape(field.value)))"
        }
        return line
    }

    /// A backslash doubled (the line's own quoting), then control and format characters escaped as every message
    /// of itv escapes them (`escapedForMessage`: `\n`, `\t`, `\u{1B}`), uncut.
    static func escape(_ text: String) -> String {
        escapedForMessage(text.replacingOccurrences(of: "\\", with: "\\\\"), limit: .max)
    }

    /// A value with a space or a quote is written in double quotes so that the line stays parseable.
    static func quoteIfNeeded(_ text: String) -> String {
        guard text.isEmpty || text.contains(" ") || text.contains("\"") else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
