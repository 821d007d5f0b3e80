import Foundation
import ITVCore
import Testing

@testable import ITVPlaybookLoader

/// Diagnostics go to operators and the journal: they never quote a file outside the playbooks directory, and
/// never more of any file than a short excerpt with control characters escaped.
@Suite struct DisclosureTests {
    /// The valid set in a temporary directory; `playbooks/demo-app.yaml` as given.
    static func set(playbook: String? = nil) throws -> TempDir {
        let dir = try TempDir()
        try dir.write("playbooks/demo-app.yaml", (playbook ?? ValidSet.playbook) + "\n")
        try dir.write("inventory.yaml", ValidSet.inventory + "\n")
        try dir.write("itvd.yaml", ValidSet.config + "\n")
        return dir
    }

    static let secret = "root:$6$SECRETHASHSECRETHASH$0123456789abcdef:19000:0:99999:7:::"

    /// A file outside the playbooks directory with content a YAML diagnostic would quote (an unknown key).
    static func secretFile(in dir: TempDir) throws -> String {
        try dir.write("outside/shadow", "apiVersion: itv/v1\n\(secret): 1\npassword: \(secret)\n")
    }

    @Test func aPlaybookSymlinkedOutsideThePlaybooksDirectoryIsRefusedByName() throws {
        let dir = try Self.set()
        let outside = try Self.secretFile(in: dir)
        let link = dir.path + "/playbooks/x.yaml"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: outside)
        let loaded = SetLoader.load(configFile: dir.path + "/itvd.yaml")
        #expect(loaded.value == nil)
        let lines = loaded.diagnostics.map(\.description)
        let realOutside = FileInput.realPath(outside) ?? outside
        let realPlaybooks = FileInput.realPath(dir.path + "/playbooks") ?? ""
        #expect(
            lines == [
                "\(link):1:1: refused: it resolves to \(realOutside), outside the directory \(realPlaybooks); itvd "
                    + "reads playbooks only from inside it (a symbolic link may point elsewhere within it)"
            ])
        #expect(!lines.joined().contains("SECRET"))
    }

    /// The same through a symlinked directory inside, and through `..`: the target decides, not the name.
    @Test func aSymlinkedDirectoryOrDotDotDoesNotLeadOutEither() throws {
        let dir = try Self.set()
        let outside = try Self.secretFile(in: dir)
        try FileManager.default.createSymbolicLink(
            atPath: dir.path + "/playbooks/sub", withDestinationPath: dir.path + "/outside")
        try FileManager.default.createSymbolicLink(
            atPath: dir.path + "/playbooks/y.yaml", withDestinationPath: "sub/shadow")
        try FileManager.default.createSymbolicLink(
            atPath: dir.path + "/playbooks/z.yaml", withDestinationPath: "../outside/shadow")
        let loaded = SetLoader.load(configFile: dir.path + "/itvd.yaml")
        let lines = loaded.diagnostics.map(\.description)
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.allSatisfy { $0.contains("refused: it resolves to \(FileInput.realPath(outside) ?? "")") })
        #expect(!lines.joined().contains("SECRET"))
    }

    /// A symlink to another file inside the directory is fine (a playbook kept under two names is reported as
    /// a duplicate id, as two files would be).
    @Test func aSymlinkWithinThePlaybooksDirectoryIsRead() throws {
        let dir = try Self.set()
        try dir.write(
            "playbooks/real/other.yaml", ValidSet.playbook.replacingOccurrences(of: "demo-app", with: "other"))
        try FileManager.default.createSymbolicLink(
            atPath: dir.path + "/playbooks/other.yaml", withDestinationPath: "real/other.yaml")
        let loaded = SetLoader.load(configFile: dir.path + "/itvd.yaml")
        #expect(loaded.diagnostics.isEmpty, "\(loaded.diagnostics)")
        #expect(loaded.value?.playbooks.map(\.id).sorted() == ["demo-app", "other"])
    }

    /// A fifo named like a playbook neither hangs the loader nor is read.
    @Test func aFifoInThePlaybooksDirectoryIsNotAFile() throws {
        let dir = try Self.set()
        #expect(mkfifo(dir.path + "/playbooks/fifo.yaml", 0o644) == 0)
        let loaded = SetLoader.load(configFile: dir.path + "/itvd.yaml")
        #expect(loaded.diagnostics.map(\.description) == [dir.path + "/playbooks/fifo.yaml:1:1: not a regular file"])
    }

    static let escape = "\u{1B}[2J\u{1B}]0;pwned\u{07}"
    static let long = String(repeating: "A", count: 20_000)

    /// Hostile text in every place a diagnostic quotes: keys, values, names, aliases, duplicate keys.
    static let hostileCases: [(file: String, text: String)] = [
        ("playbook", ValidSet.playbook + "\n\(escape)\(long): 1\n"),
        ("playbook", ValidSet.playbook.replacingOccurrences(of: "name: Demo App", with: "name: [\(escape)\(long)]")),
        ("playbook", ValidSet.playbook.replacingOccurrences(of: "id: demo-app", with: "id: \"\(escape)\(long)\"")),
        ("playbook", ValidSet.playbook + "\n\"x\(escape)\(long)\": 1\n\"x\(escape)\(long)\": 2\n"),
        ("playbook", ValidSet.playbook + "\nalias: *\(long)\n"),
        (
            "playbook",
            ValidSet.playbook.replacingOccurrences(
                of: "- {name: canary, size: 1, approval: auto}", with: "- {name: \"c\(escape)\(long)\", size: x}")
        ),
        ("playbook", ValidSet.playbook.replacingOccurrences(of: "scheme: dotted", with: "scheme: \(long)\(escape)")),
        ("inventory", ValidSet.inventory + "\n  \"h\(escape)\(long)\": {address: 1, tenant: nope}\n"),
        ("inventory", ValidSet.inventory + "\n  h9: {address: \"\(escape)\(long)\", tenant: lra, port: \(long)}\n"),
        ("config", ValidSet.config + "\n  \"w\(escape)\(long)\": {duration: 1s}\n"),
        // Cross-file checks quote names too.
        (
            "playbook",
            ValidSet.playbook.replacingOccurrences(
                of: "targets: [workstations]", with: "targets: [\"\(escape)\(long)\"]")
        ),
        (
            "playbook",
            ValidSet.playbook.replacingOccurrences(
                of: "- {name: canary, size: 1, approval: auto}", with: "- {name: canary, hosts: [\"\(escape)\(long)\"]}"
            )
        ),
        ("playbook", ValidSet.playbook + "\n  window: \"\(escape)\(long)\"\n"),
    ]

    @Test(arguments: 0..<hostileCases.count)
    func aHostileFileGetsShortEscapedDiagnostics(_ index: Int) throws {
        let c = Self.hostileCases[index]
        let dir = try Self.set(playbook: c.file == "playbook" ? c.text : nil)
        if c.file == "inventory" { try dir.write("inventory.yaml", c.text + "\n") }
        if c.file == "config" { try dir.write("itvd.yaml", c.text + "\n") }
        let loaded = SetLoader.load(configFile: dir.path + "/itvd.yaml")
        #expect(loaded.value == nil)
        #expect(!loaded.diagnostics.isEmpty)
        for d in loaded.diagnostics {
            let line = d.description
            #expect(!line.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "\(line)")
            #expect(d.message.count <= Diagnostic.maxMessageLength + 3, "\(d.message.count) characters")
            // The longest run of the file's text quoted is an excerpt, not the file.
            #expect(!line.contains(String(repeating: "A", count: 81)), "\(line.prefix(300))")
        }
    }
}
