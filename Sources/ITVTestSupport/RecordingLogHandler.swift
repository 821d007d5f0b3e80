import Logging
import Synchronization

/// What a `RecordingLogHandler` logged, shared between the logger and the test.
public final class LogRecords: Sendable {
    public struct Record: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]
    }

    private let records = Mutex<[Record]>([])

    public init() {}

    public func withLock<R>(_ body: (inout [Record]) -> R) -> R { records.withLock { body(&$0) } }

    /// Every record so far.
    public var all: [Record] { records.withLock { $0 } }

    /// The records whose `event` metadata is `event`.
    public func with(event: String) -> [Record] { all.filter { $0.metadata["event"] == event } }
}

/// A log handler that keeps every record, for tests that check what was logged, at which level, how often.
public struct RecordingLogHandler: LogHandler {
    public typealias Record = LogRecords.Record

    public let records: LogRecords
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    public init(records: LogRecords) { self.records = records }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var flat: [String: String] = [:]
        for (key, value) in metadata { flat[key] = "\(value)" }
        for (key, value) in event.metadata ?? [:] { flat[key] = "\(value)" }
        records.withLock { $0.append(Record(level: event.level, message: "\(event.message)", metadata: flat)) }
    }
}
