import CSystemd
import Foundation
import ITVCore

#if canImport(Glibc)
    import Glibc
#endif

/// Where a `JournalWriter` writes.
public struct JournalDestination: Sendable {
    /// The native journal socket. `sd_journal_sendv` reports success when it is missing (it drops the entry),
    /// so the writer checks that it exists before each entry and writes to `fallbackFD` when it does not.
    public static let systemJournalSocket = "/run/systemd/journal/socket"

    /// The socket whose existence means "a journald is there", or nil to always use `fallbackFD`.
    /// `sd_journal_sendv` always writes to the system socket; only tests set another path (one that does
    /// not exist) to see the fallback.
    public var journalSocketPath: String?
    /// Where one line per entry goes without a journal (normally stderr).
    public var fallbackFD: Int32

    public init(journalSocketPath: String?, fallbackFD: Int32 = STDERR_FILENO) {
        self.journalSocketPath = journalSocketPath
        self.fallbackFD = fallbackFD
    }

    /// The system journal, with stderr as fallback.
    public static let journal = JournalDestination(journalSocketPath: systemJournalSocket)
    /// stderr only.
    public static let stderr = JournalDestination(journalSocketPath: nil)

    /// Whether a journal socket exists at `journalSocketPath`.
    public var journalAvailable: Bool {
        guard let path = journalSocketPath else { return false }
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK
    }
}

/// Writes journal entries from one dedicated thread, so that a slow or stuck journald (`sd_journal_sendv`
/// blocks when journald's queue is full, docs/TECH-NOTES.md 13) never blocks a caller.
///
/// The queue is bounded: `submit` never waits; when the queue is full the entry is counted and dropped, and
/// after the writer catches up it writes one `log.dropped` entry saying how many were lost.
public final class JournalWriter: @unchecked Sendable {
    public let destination: JournalDestination
    public let capacity: Int

    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queue: [JournalEntry] = []
    private var writing = false
    private var stopping = false
    private var stopped = false
    private var droppedSinceReport = 0
    private var droppedTotal = 0
    private var fallbackTotal = 0

    private let pid = getpid()

    /// Starts the writer thread. Call `shutdown()` to drain the queue and end it.
    public init(destination: JournalDestination = .journal, capacity: Int = 4096) {
        precondition(capacity > 0, "a journal queue needs room for at least one entry")
        self.destination = destination
        self.capacity = capacity
        let thread = Thread { [self] in run() }
        thread.name = "itvd-journal"
        thread.start()
    }

    /// Queues an entry; returns false when the queue is full (the entry is counted in `droppedCount`) or the
    /// writer is shutting down.
    @discardableResult
    public func submit(_ entry: JournalEntry) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if stopping { return false }
        guard queue.count < capacity else {
            droppedSinceReport += 1
            droppedTotal += 1
            return false
        }
        queue.append(entry)
        condition.signal()
        return true
    }

    /// How many entries were dropped because the queue was full, since the writer started.
    public var droppedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return droppedTotal
    }

    /// How many entries went to the fallback file descriptor instead of the journal.
    public var fallbackCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return fallbackTotal
    }

    /// Waits until every queued entry is written, at most `timeout`; false when time ran out.
    @discardableResult
    public func flush(timeout: Duration = .seconds(5)) -> Bool {
        let deadline = Date().addingTimeInterval(timeout.seconds)
        condition.lock()
        defer { condition.unlock() }
        while !queue.isEmpty || writing || droppedSinceReport > 0 {
            if stopped || !condition.wait(until: deadline) { return queue.isEmpty && !writing }
        }
        return true
    }

    /// Drains the queue (at most `timeout`) and ends the writer thread; later entries are dropped.
    public func shutdown(timeout: Duration = .seconds(5)) {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        flush(timeout: timeout)
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && droppedSinceReport == 0 && !stopping {
                condition.wait()
            }
            if queue.isEmpty && droppedSinceReport == 0 && stopping {
                stopped = true
                condition.broadcast()
                condition.unlock()
                return
            }
            var batch: [JournalEntry] = []
            swap(&batch, &queue)
            let dropped = droppedSinceReport
            droppedSinceReport = 0
            writing = true
            condition.unlock()

            var fallbacks = 0
            for entry in batch where !write(entry) { fallbacks += 1 }
            if dropped > 0, !write(Self.dropReport(count: dropped, capacity: capacity)) { fallbacks += 1 }

            condition.lock()
            writing = false
            fallbackTotal += fallbacks
            condition.broadcast()
            condition.unlock()
        }
    }

    /// The entry that reports lost entries.
    static func dropReport(count: Int, capacity: Int) -> JournalEntry {
        JournalFieldMapping.entry(
            level: .warning,
            message: "itvd dropped \(count) log entries: the journal queue of \(capacity) entries was full",
            metadata: ["event": .string(ITVEvent.logDropped.rawValue), "dropped": .stringConvertible(count)],
            file: #fileID, function: #function, line: #line
        )
    }

    /// Writes one entry to the journal, or to the fallback descriptor; true when it went to the journal.
    private func write(_ entry: JournalEntry) -> Bool {
        if destination.journalAvailable, Self.sendToJournal(entry) >= 0 { return true }
        let line = JournalFieldMapping.stderrLine(for: entry, pid: pid) + "\n"
        Self.writeAll(fd: destination.fallbackFD, Array(line.utf8))
        return false
    }

    /// `sd_journal_sendv` with one iovec per field (variadic `sd_journal_send` cannot be called from Swift).
    static func sendToJournal(_ entry: JournalEntry) -> Int32 {
        var bytes: [UInt8] = []
        var spans: [(offset: Int, count: Int)] = []
        for field in entry.fields {
            let start = bytes.count
            bytes.append(contentsOf: field.name.utf8)
            bytes.append(UInt8(ascii: "="))
            bytes.append(contentsOf: field.value.utf8)
            spans.append((start, bytes.count - start))
        }
        return bytes.withUnsafeMutableBytes { raw -> Int32 in
            guard let base = raw.baseAddress else { return -EINVAL }
            var vectors = spans.map { iovec(iov_base: base + $0.offset, iov_len: $0.count) }
            return sd_journal_sendv(&vectors, Int32(vectors.count))
        }
    }

    /// Writes every byte unless the descriptor fails; a blocked pipe blocks only this thread.
    static func writeAll(fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, base + offset, raw.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}

extension Duration {
    /// The duration in seconds, as `TimeInterval`.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
