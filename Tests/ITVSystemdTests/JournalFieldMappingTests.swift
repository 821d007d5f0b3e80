import ITVCore
import Logging
import Testing

@testable import ITVSystemd

@Suite("Journal field mapping")
struct JournalFieldMappingTests {
    @Test("swift-log levels map to syslog priorities")
    func priorities() {
        let expected: [(Logger.Level, Int)] = [
            (.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
        ]
        for (level, priority) in expected {
            #expect(JournalFieldMapping.priority(of: level) == priority, "\(level)")
        }
    }

    @Test("metadata keys become ITV_ fields only when journald would keep the name")
    func fieldNames() {
        #expect(JournalFieldMapping.fieldName(forMetadataKey: "rollout") == "ITV_ROLLOUT")
        #expect(JournalFieldMapping.fieldName(forMetadataKey: "procedure") == "ITV_PROCEDURE")
        #expect(JournalFieldMapping.fieldName(forMetadataKey: "hostGroup") == "ITV_HOST_GROUP")
        #expect(JournalFieldMapping.fieldName(forMetadataKey: "host-group") == "ITV_HOST_GROUP")
        #expect(JournalFieldMapping.fieldName(forMetadataKey: "planHash2") == "ITV_PLAN_HASH2")
        #expect(JournalFieldMapping.fieldName(forMetadataKey: "grün") == nil)
        #expect(JournalFieldMapping.fieldName(forMetadataKey: "a b") == nil)
        #expect(JournalFieldMapping.fieldName(forMetadataKey: "") == nil)
        #expect(JournalFieldMapping.fieldName(forMetadataKey: String(repeating: "x", count: 61)) == nil)
        #expect(JournalFieldMapping.fieldName(forMetadataKey: String(repeating: "x", count: 60)) != nil)

        #expect(JournalFieldMapping.isValidFieldName("ITV_ROLLOUT"))
        #expect(!JournalFieldMapping.isValidFieldName("_ITV"))
        #expect(!JournalFieldMapping.isValidFieldName("1ITV"))
        #expect(!JournalFieldMapping.isValidFieldName("itv"))
        #expect(!JournalFieldMapping.isValidFieldName(String(repeating: "A", count: 65)))
    }

    @Test("an entry carries identifier, priority, code location, ITV_ fields and the event's MESSAGE_ID")
    func entryFields() throws {
        let entry = JournalFieldMapping.entry(
            level: .critical, message: "host key of ws-01 changed",
            metadata: [
                "event": "hostkey.mismatch", "host": "ws-01", "rollout": "12", "wave": .stringConvertible(2),
                "odd key": "x y",
            ],
            file: "ITVSSH/Session.swift", function: "connect()", line: 42
        )
        #expect(entry["MESSAGE"] == "host key of ws-01 changed odd key=x y")
        #expect(entry["PRIORITY"] == "2")
        #expect(entry["SYSLOG_IDENTIFIER"] == "itvd")
        #expect(entry["ITV_EVENT"] == "hostkey.mismatch")
        #expect(entry["MESSAGE_ID"] == ITVEvent.hostKeyMismatch.messageID)
        #expect(entry["ITV_HOST"] == "ws-01")
        #expect(entry["ITV_ROLLOUT"] == "12")
        #expect(entry["ITV_WAVE"] == "2")
        #expect(entry["CODE_FILE"] == "ITVSSH/Session.swift")
        #expect(entry["CODE_LINE"] == "42")
        #expect(entry["CODE_FUNC"] == "connect()")
        #expect(entry.fields.allSatisfy { JournalFieldMapping.isValidFieldName($0.name) })
    }

    @Test("an unknown event name is kept but gets no MESSAGE_ID")
    func unknownEvent() {
        let entry = JournalFieldMapping.entry(
            level: .info, message: "m", metadata: ["event": "something.new"], file: "f", function: "g", line: 1)
        #expect(entry["ITV_EVENT"] == "something.new")
        #expect(entry["MESSAGE_ID"] == nil)
    }

    @Test("the stderr line has the level, the message and the fields, with control characters escaped")
    func stderrLine() {
        let entry = JournalFieldMapping.entry(
            level: .warning, message: "step failed:\nexit 3\u{1b}[0m",
            metadata: ["rollout": "7", "event": "host.failed", "host": "a b"],
            file: "F.swift", function: "f()", line: 9
        )
        let line = JournalFieldMapping.stderrLine(for: entry, pid: 1234)
        #expect(!line.contains("\n"))
        #expect(line.hasPrefix(#"itvd[1234]: WARNING step failed:\nexit 3\u{1B}[0m "#))
        #expect(line.contains(" ITV_ROLLOUT=7"))
        #expect(line.contains(" ITV_EVENT=host.failed"))
        #expect(line.contains(" MESSAGE_ID=\(ITVEvent.hostFailed.messageID ?? "?")"))
        #expect(line.contains(#" ITV_HOST="a b""#))
        #expect(line.contains(" CODE_FILE=F.swift CODE_LINE=9"))
    }
}

@Suite("Events")
struct EventTests {
    @Test("event names are dotted lowercase and message ids are distinct 128-bit hex ids")
    func names() {
        for event in ITVEvent.allCases {
            #expect(event.rawValue.wholeMatch(of: /[a-z]+(\.[a-z_]+)+/) != nil, "\(event.rawValue)")
        }
        let ids = ITVEvent.allCases.compactMap(\.messageID)
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.wholeMatch(of: /[0-9a-f]{32}/) != nil, "\(id)")
        }
        let mustHaveIDs: [ITVEvent] = [
            .releaseDetected, .rolloutCreated, .waveWaiting, .waveApproved, .hostFailed, .rolloutHalted,
            .rolloutSucceeded, .rolloutRolledBack, .hostKeyMismatch, .feedRejected, .permissionDenied,
            .windowOpened, .windowClosed,
        ]
        for event in mustHaveIDs {
            #expect(event.messageID != nil, "\(event.rawValue)")
        }
    }
}
