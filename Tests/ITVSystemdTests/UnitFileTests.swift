import Foundation
import ITVCore
import Testing

/// The shipped units, checked by systemd's own tools (docs/TECH-NOTES.md 17).
@Suite("systemd units")
struct UnitFileTests {
    static let units = ["itvd.service", "itvd.socket", "itv-window@.service", "itv-window@.timer"]
    static let analyze = "/usr/bin/systemd-analyze"

    /// Copies of the units whose binaries point at `binDir` (verify rejects an ExecStart that does not exist).
    static func unitCopies(binDir: String) throws -> TempDir {
        let dir = try TempDir()
        for unit in units {
            let text = try String(contentsOfFile: packageRoot + "/units/" + unit, encoding: .utf8)
            try text.replacingOccurrences(of: "/usr/local/bin/", with: binDir + "/")
                .write(toFile: dir.path + "/" + unit, atomically: true, encoding: .utf8)
        }
        return dir
    }

    @Test("systemd-analyze verify passes on every unit, the window units instantiated as systemd would")
    func verify() async throws {
        let copies = try Self.unitCopies(binDir: try builtBinDir())
        for unit in ["itvd.service", "itvd.socket", "itv-window@evening.service", "itv-window@evening.timer"] {
            let result = try await run(Self.analyze, ["verify", copies.path + "/" + unit])
            #expect(result.status == 0, "\(unit): \(result.stderr)")
            let complaints = result.stderr.split(separator: "\n").filter { $0.contains("itv") }
            #expect(complaints.isEmpty, "\(unit): \(complaints)")
        }
    }

    @Test("verify would catch a unit whose binary does not exist")
    func verifyCatchesMissingBinary() async throws {
        let copies = try Self.unitCopies(binDir: "/nonexistent/itv-test-bin")
        let result = try await run(Self.analyze, ["verify", copies.path + "/itvd.service"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("/nonexistent/itv-test-bin/itvd"))
    }

    @Test("itvd.service scores 2.0 or better in systemd-analyze security --offline=true")
    func securityScore() async throws {
        let copies = try Self.unitCopies(binDir: try builtBinDir())
        let result = try await run(Self.analyze, ["security", "--offline=true", copies.path + "/itvd.service"])
        let line = result.stdout.split(separator: "\n").first { $0.contains("Overall exposure level for itvd.service") }
        let scoreText = try #require(line?.firstMatch(of: /: ([0-9]+\.[0-9]+)/)?.1, "\(result.stdout)\(result.stderr)")
        let score = try #require(Double(scoreText))
        print("itvd.service exposure score: \(score)")
        #expect(score <= 2.0, "\(line ?? "")")
    }

    @Test("itvd.service keeps what the daemon needs: no PrivateUsers, outgoing TCP and AF_UNIX allowed")
    func serviceAllowsWhatItNeeds() throws {
        let text = try String(contentsOfFile: packageRoot + "/units/itvd.service", encoding: .utf8)
        let settings = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
        #expect(!settings.contains { $0.hasPrefix("PrivateUsers=") })
        #expect(!settings.contains { $0.hasPrefix("PrivateNetwork=") || $0.hasPrefix("IPAddressDeny=") })
        let families = settings.first { $0.hasPrefix("RestrictAddressFamilies=") } ?? ""
        for family in ["AF_UNIX", "AF_INET", "AF_INET6"] {
            #expect(families.contains(family))
        }
        for setting in [
            "Type=notify", "ExecReload=/usr/local/bin/itvctl reload", "Restart=on-failure", "StateDirectory=itvd",
            "RuntimeDirectory=itvd", "ConfigurationDirectory=itvd", "User=itvd",
        ] {
            #expect(settings.contains(setting), "\(setting)")
        }
        #expect(settings.contains { $0.hasPrefix("WatchdogSec=") })
    }

    @Test("the window timer's shipped calendar is valid and never fires")
    func windowTimerDefault() async throws {
        let text = try String(contentsOfFile: packageRoot + "/units/itv-window@.timer", encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("OnCalendar=") })
        let expression = String(line.dropFirst("OnCalendar=".count))
        let result = try await run(Self.analyze, ["calendar", expression])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Next elapse: never"), "\(result.stdout)")
    }
}

/// The journal catalog explains every MESSAGE_ID of ITVEvent, and nothing else.
@Suite("Journal catalog")
struct CatalogTests {
    struct Entry {
        var id: String
        var headers: [String: String]
        var text: String
    }

    /// Entries as catalog(7) reads them: a `-- ID` line, header lines up to the first blank line, then text.
    static func entries() throws -> [Entry] {
        let text = try String(contentsOfFile: packageRoot + "/units/itvd.catalog", encoding: .utf8)
        var entries: [Entry] = []
        var inHeaders = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("-- ") {
                entries.append(Entry(id: String(line.dropFirst(3)), headers: [:], text: ""))
                inHeaders = true
            } else if var entry = entries.popLast() {
                if line.isEmpty {
                    inHeaders = false
                } else if inHeaders, let colon = line.firstIndex(of: ":") {
                    entry.headers[String(line[..<colon])] = String(line[line.index(after: colon)...].dropFirst())
                } else {
                    entry.text += line + "\n"
                }
                entries.append(entry)
            }
        }
        return entries
    }

    @Test("one entry per MESSAGE_ID of ITVEvent and vice versa, each with Subject, Defined-By, Documentation")
    func matchesEvents() throws {
        let entries = try Self.entries()
        let ids = entries.map(\.id)
        #expect(Set(ids).count == ids.count, "duplicate ids in the catalog")
        #expect(Set(ids) == Set(ITVEvent.allCases.compactMap(\.messageID)))
        for entry in entries {
            #expect(entry.headers["Subject"]?.isEmpty == false, "\(entry.id)")
            #expect(entry.headers["Defined-By"] == "itvd", "\(entry.id)")
            #expect(entry.headers["Documentation"]?.isEmpty == false, "\(entry.id)")
            #expect(entry.text.count > 80, "\(entry.id) explains too little: \(entry.text)")
        }
    }

    @Test("journalctl compiles the catalog and lists every id")
    func journalctlAcceptsIt() async throws {
        let root = try TempDir()
        let dir = root.path + "/usr/lib/systemd/catalog"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: packageRoot + "/units/itvd.catalog", toPath: dir + "/itvd.catalog")
        let update = try await run("/usr/bin/journalctl", ["--root=" + root.path, "--update-catalog"])
        #expect(update.status == 0, "\(update.stderr)")
        let list = try await run("/usr/bin/journalctl", ["--root=" + root.path, "--list-catalog"])
        for event in ITVEvent.keyEvents {
            let id = try #require(event.messageID)
            #expect(list.stdout.contains("\(id) itvd: "), "\(event.rawValue) missing from --list-catalog")
        }
    }
}
