import Foundation
import ITVCore
import Logging
import Testing

@testable import ITVSystemd

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Journal writer without a journal")
struct JournalWriterTests {
    @Test("without a journal socket every entry becomes one stderr line with the same fields")
    func stderrFallback() async throws {
        let dir = try TempDir()
        let pipe = try Pipe2()
        let writer = JournalWriter(
            destination: JournalDestination(journalSocketPath: dir.path + "/no-journal-here", fallbackFD: pipe.writeFD)
        )
        defer { writer.shutdown() }
        #expect(!writer.destination.journalAvailable)
        var logger = Logger(label: "itvd.test") { JournalLogHandler(label: $0, writer: writer) }
        logger[metadataKey: "procedure"] = "firefox-esr"
        logger.error(
            "host ws-01 failed:\nexit status 3",
            metadata: ["event": "host.failed", "rollout": "12", "wave": "2", "host": "ws-01", "tenant": "egling"]
        )
        logger.info("release seen", metadata: ["event": "release.detected", "version": "128.3.1esr"])
        logger.debug("not logged at info level")
        #expect(writer.flush())

        let lines = pipe.readAvailable().split(separator: "\n").map(String.init)
        try #require(lines.count == 2, "\(lines)")
        let pid = getpid()
        #expect(lines[0].hasPrefix(#"itvd[\#(pid)]: ERROR host ws-01 failed:\nexit status 3 "#), "\(lines[0])")
        for field in [
            "ITV_EVENT=host.failed", "MESSAGE_ID=\(ITVEvent.hostFailed.messageID ?? "?")", "ITV_ROLLOUT=12",
            "ITV_WAVE=2", "ITV_HOST=ws-01", "ITV_TENANT=egling", "ITV_PROCEDURE=firefox-esr", "CODE_FILE=",
        ] {
            #expect(lines[0].contains(" " + field), "\(field) in \(lines[0])")
        }
        #expect(lines[1].hasPrefix("itvd[\(pid)]: INFO release seen "))
        #expect(lines[1].contains(" ITV_VERSION=128.3.1esr"))
        #expect(writer.fallbackCount == 2)
    }

    @Test("a blocked writer drops and counts entries, never blocks the caller, and reports the loss later")
    func queueFull() async throws {
        let pipe = try Pipe2()
        // Fill the pipe so that the writer thread blocks in write(2) on its first line, as it would in
        // sd_journal_sendv against a stuck journald.
        let flags = fcntl(pipe.writeFD, F_GETFL)
        _ = fcntl(pipe.writeFD, F_SETFL, flags | O_NONBLOCK)
        let filler = [UInt8](repeating: UInt8(ascii: "x"), count: 4096)
        while write(pipe.writeFD, filler, filler.count) > 0 {}
        while write(pipe.writeFD, filler, 1) > 0 {}
        _ = fcntl(pipe.writeFD, F_SETFL, flags)

        let capacity = 16
        let writer = JournalWriter(
            destination: .init(journalSocketPath: nil, fallbackFD: pipe.writeFD), capacity: capacity)
        let logger = Logger(label: "itvd.test") { JournalLogHandler(label: $0, writer: writer) }
        let total = 5000
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for index in 0..<total {
                logger.info("entry \(index)", metadata: ["rollout": "1", "event": "host.succeeded"])
            }
        }
        // 5000 entries against a stuck writer: with blocking they would never return at all.
        #expect(elapsed < .seconds(10), "logging took \(elapsed)")
        let dropped = writer.droppedCount
        #expect(dropped >= total - 2 * capacity, "dropped \(dropped)")
        #expect(dropped < total)

        // Unblock the writer: drain the pipe until everything queued and the report of the loss are written.
        var output = ""
        let drained = await eventually {
            output += pipe.readAvailable()
            guard writer.flush(timeout: .milliseconds(10)) else { return false }
            output += pipe.readAvailable()
            return true
        }
        #expect(drained)
        writer.shutdown()
        let lines = output.split(separator: "\n")
        let reports = lines.filter { $0.contains("ITV_EVENT=log.dropped") }
        try #require(!reports.isEmpty)
        for report in reports {
            #expect(report.contains("WARNING itvd dropped "), "\(report)")
            #expect(report.contains(" MESSAGE_ID=\(ITVEvent.logDropped.messageID ?? "?")"))
        }
        let reported = reports.compactMap { report in
            report.firstMatch(of: /\ ITV_DROPPED=([0-9]+)/).flatMap { Int($0.1) }
        }
        #expect(reported.count == reports.count)
        #expect(reported.reduce(0, +) == dropped, "reports \(reported), dropped \(dropped)")
        let written = lines.filter { $0.contains("ITV_EVENT=host.succeeded") }.count
        #expect(written + dropped == total)
    }

    @Test("after shutdown entries are dropped instead of queued")
    func shutdownDrops() throws {
        let pipe = try Pipe2()
        let writer = JournalWriter(destination: .init(journalSocketPath: nil, fallbackFD: pipe.writeFD))
        writer.shutdown()
        #expect(!writer.submit(JournalEntry(fields: [JournalField("MESSAGE", "late")])))
        #expect(pipe.readAvailable().isEmpty)
    }
}
