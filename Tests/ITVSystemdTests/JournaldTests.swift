import Foundation
import ITVCore
import Logging
import Testing

@testable import ITVSystemd

/// Against a real journald, read back with `journalctl -o json`.
@Suite("Real journald", .serialized)
struct JournaldTests {
    /// The level each key event is logged at, as the engine will.
    static func level(of event: ITVEvent) -> Logger.Level {
        switch event {
        case .hostKeyMismatch: .critical
        case .hostFailed, .rolloutHalted, .reloadFailed, .feedBroken: .error
        case .permissionDenied, .feedRejected, .logDropped, .hostUnknown, .rolloutAborted: .warning
        case .waveWaiting, .windowOpened, .windowClosed, .rolloutRolledBack: .notice
        default: .info
        }
    }

    @Test("every event reads back with its ITV_ fields, PRIORITY, MESSAGE_ID and code location")
    func keyEventsReadBack() async throws {
        let marker = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await JournaldFixture.with {
            #expect(ITVLogging.destination(for: .automatic).journalSocketPath == JournalDestination.systemJournalSocket)
            #expect(ITVLogging.destination(for: .stderr).journalSocketPath == nil)
            let writer = JournalWriter(destination: .journal)
            defer { writer.shutdown() }
            var logger = Logger(label: "itvd.test") { JournalLogHandler(label: $0, writer: writer) }
            logger.logLevel = .trace
            logger[metadataKey: "testRun"] = .string(marker)
            for (index, event) in ITVEvent.allCases.enumerated() {
                logger.log(
                    level: Self.level(of: event),
                    "event \(event.rawValue)\nsecond line",
                    metadata: [
                        "event": .string(event.rawValue), "procedure": "firefox-esr", "version": "128.3.1esr",
                        "rollout": .stringConvertible(100 + index), "wave": "2", "host": "ws-it-01",
                        "tenant": "egling", "user": "alice", "uid": "1001", "not a field": "kept",
                    ]
                )
            }
            #expect(writer.flush())
            #expect(writer.fallbackCount == 0)

            var entries: [[String: Any]] = []
            let arrived = try await eventually {
                entries = try await JournaldFixture.entries(matching: ["ITV_TEST_RUN=\(marker)"])
                return entries.count >= ITVEvent.allCases.count
            }
            #expect(arrived, "\(entries.count) of \(ITVEvent.allCases.count) entries arrived")
            for (index, event) in ITVEvent.allCases.enumerated() {
                let found = entries.first { $0["ITV_EVENT"] as? String == event.rawValue }
                let entry = try #require(found, "no entry for \(event.rawValue)")
                #expect(entry["PRIORITY"] as? String == String(JournalFieldMapping.priority(of: Self.level(of: event))))
                #expect(entry["MESSAGE_ID"] as? String == event.messageID, "\(event.rawValue)")
                #expect(entry["SYSLOG_IDENTIFIER"] as? String == "itvd")
                #expect(entry["MESSAGE"] as? String == "event \(event.rawValue)\nsecond line not a field=kept")
                #expect(entry["ITV_PROCEDURE"] as? String == "firefox-esr")
                #expect(entry["ITV_VERSION"] as? String == "128.3.1esr")
                #expect(entry["ITV_ROLLOUT"] as? String == String(100 + index))
                #expect(entry["ITV_WAVE"] as? String == "2")
                #expect(entry["ITV_HOST"] as? String == "ws-it-01")
                #expect(entry["ITV_TENANT"] as? String == "egling")
                #expect(entry["ITV_USER"] as? String == "alice")
                #expect(entry["ITV_UID"] as? String == "1001")
                #expect((entry["CODE_FILE"] as? String)?.hasSuffix("JournaldTests.swift") == true)
                #expect(Int(entry["CODE_LINE"] as? String ?? "") != nil)
                #expect((entry["CODE_FUNC"] as? String)?.hasPrefix("keyEventsReadBack") == true)
            }
            // journalctl's own filter on the event name, as an operator would use it.
            let failed = try await JournaldFixture.entries(matching: [
                "ITV_EVENT=host.failed", "ITV_TEST_RUN=\(marker)",
            ])
            #expect(failed.count == 1)
        }
    }

    @Test(
        "a stale journal socket (journald gone) sends entries to stderr instead",
        .enabled(if: !FileManager.default.fileExists(atPath: JournaldFixture.socket), "a journald is running")
    )
    func staleSocketFallsBack() async throws {
        let directory = "/run/systemd/journal"
        let createdDirectory = !FileManager.default.fileExists(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer {
            if createdDirectory { try? FileManager.default.removeItem(atPath: directory) }
        }
        // A socket file nobody listens on, as a crashed journald leaves it. Binding fails (and the test with
        // it) if a journald appeared meanwhile; then its socket is left alone.
        _ = try UnixSocket(type: Int32(SOCK_DGRAM.rawValue), at: JournaldFixture.socket)
        defer { try? FileManager.default.removeItem(atPath: JournaldFixture.socket) }
        #expect(!JournaldFixture.acceptsDatagrams(JournaldFixture.socket))

        let pipe = try Pipe2()
        let writer = JournalWriter(
            destination: .init(journalSocketPath: JournaldFixture.socket, fallbackFD: pipe.writeFD))
        defer { writer.shutdown() }
        #expect(writer.destination.journalAvailable)
        let logger = Logger(label: "itvd.test") { JournalLogHandler(label: $0, writer: writer) }
        logger.critical("host key changed", metadata: ["event": "hostkey.mismatch", "host": "ws-it-01"])
        #expect(writer.flush())
        #expect(writer.fallbackCount == 1)
        let line = pipe.readAvailable()
        #expect(line.hasPrefix("itvd[\(getpid())]: CRITICAL host key changed "), "\(line)")
        #expect(line.contains(" ITV_HOST=ws-it-01"))
    }
}
