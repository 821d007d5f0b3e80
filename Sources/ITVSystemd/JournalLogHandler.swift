import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A swift-log handler that writes structured journal entries through a shared `JournalWriter`.
///
/// Metadata becomes `ITV_*` fields (`rollout` -> `ITV_ROLLOUT`, `event` -> `ITV_EVENT` plus `MESSAGE_ID`);
/// see `JournalFieldMapping`. Logging never blocks: entries go to the writer's bounded queue.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    public let label: String
    public let writer: JournalWriter

    public init(
        label: String,
        writer: JournalWriter,
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.label = label
        self.writer = writer
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let explicit = event.metadata {
            merged.merge(explicit) { _, new in new }
        }
        let entry = JournalFieldMapping.entry(
            level: event.level,
            message: event.message.description,
            metadata: merged,
            error: event.error,
            file: event.file,
            function: event.function,
            line: event.line
        )
        writer.submit(entry)
    }
}

/// Chooses where itvd logs and bootstraps swift-log once per process.
public enum ITVLogging {
    /// Where entries go.
    public enum Target: String, Sendable {
        /// The journal when its socket exists at start-up, stderr otherwise.
        case automatic
        /// The journal (entries fall back to stderr while no journald listens).
        case journal
        /// One line per entry on stderr.
        case stderr
    }

    /// The destination for a target, looked at now.
    public static func destination(for target: Target) -> JournalDestination {
        switch target {
        case .journal:
            .journal
        case .stderr:
            .stderr
        case .automatic:
            JournalDestination.journal.journalAvailable ? .journal : .stderr
        }
    }

    /// Bootstraps `LoggingSystem` with a `JournalLogHandler` for every logger, all sharing one writer, and
    /// returns that writer (call `shutdown()` on it before the process exits so that queued entries are
    /// written). swift-log allows one bootstrap per process.
    @discardableResult
    public static func bootstrap(
        target: Target = .automatic,
        logLevel: Logger.Level = .info,
        capacity: Int = 4096,
        metadataProvider: Logger.MetadataProvider? = nil
    ) -> JournalWriter {
        let writer = JournalWriter(destination: destination(for: target), capacity: capacity)
        LoggingSystem.bootstrap(
            { label, provider in
                JournalLogHandler(label: label, writer: writer, logLevel: logLevel, metadataProvider: provider)
            },
            metadataProvider: metadataProvider
        )
        return writer
    }
}
