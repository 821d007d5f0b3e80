/// Where something is in a source file: 1-based line and column.
public struct SourceLocation: Hashable, Sendable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, with control characters in the file name escaped.
    public var description: String { "\(escapedForMessage(file, limit: 4_096)):\(line):\(column)" }
}

/// One problem found in an input file, printed as `file:line:column: message`.
public struct Diagnostic: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    /// The longest message a diagnostic carries; file text in it is quoted shorter (`escapedForMessage`).
    public static let maxMessageLength = 600

    /// Control characters in `message` are escaped and it is cut to `maxMessageLength` characters, so that no
    /// diagnostic can carry a whole file or a terminal escape sequence, whatever a caller put in it.
    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = escapedForMessage(message, limit: Self.maxMessageLength)
    }

    public var description: String { "\(location): \(message)" }
}

extension Array where Element == Diagnostic {
    /// Diagnostics in reading order: by file, then line, then column.
    public func sortedByLocation() -> [Diagnostic] {
        sorted {
            ($0.location.file, $0.location.line, $0.location.column, $0.message)
                < ($1.location.file, $1.location.line, $1.location.column, $1.message)
        }
    }
}

/// A value together with the place it was written, so that cross-checks can point at it.
public struct Located<Value: Hashable & Sendable>: Hashable, Sendable {
    public var value: Value
    public var location: SourceLocation

    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}
