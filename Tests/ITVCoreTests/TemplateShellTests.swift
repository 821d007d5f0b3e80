import Foundation
import Testing

@testable import ITVCore

/// Values a feed, a host or a name could carry into a command.
let hostileValues: [String] = [
    ";", "1.0; reboot", "$(reboot)", "`reboot`", "'", "it's", "''", "'\\''", "\"", "\"$(reboot)\"",
    "\n", "1.0\nreboot", "\\", "\\'", "*", "  spaces  around ", "\t", "\r\n", "\u{2018}x\u{2019}",
    "\u{201A}\u{201B}", "\u{201C}x\u{201D}", "-rf", "-rf /", "$HOME", "${IFS}reboot", "!!", "~", "#x",
    "a|reboot", "&& reboot", "%s%d%n", "", "é\u{301}", "'\u{301}", "🇩🇪", "$'\\x41'", "a\u{7f}b\u{1b}[2J",
    "{{version}}", "x > pwned", "< /etc/passwd", "(reboot)", "\u{a0}\u{2028}\u{feff}",
]

/// A scratch directory whose PATH holds fake `reboot`, `rm` and `touch` commands that leave a canary
/// file behind, so a value that escaped its quotes shows up without doing harm.
private struct Sandbox {
    let dir: URL
    var canary: URL { dir.appendingPathComponent("CANARY") }

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("itv-template-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let bin = dir.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        for name in ["reboot", "rm", "touch"] {
            let path = bin.appendingPathComponent(name).path
            let script = "#!/bin/sh\necho \"$0 $*\" >> '\(canary.path)'\n"
            try Data(script.utf8).write(to: URL(fileURLWithPath: path))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }
        // Something for an unquoted `*` to expand to.
        try Data().write(to: dir.appendingPathComponent("glob-victim"))
    }

    func remove() { try? FileManager.default.removeItem(at: dir) }

    /// Runs `command` with `shell -c` in the sandbox; returns stdout and the exit status.
    func run(_ shell: String, _ command: String) throws -> (stdout: [UInt8], status: Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: shell)
        process.arguments = ["-c", command]
        process.environment = ["PATH": dir.appendingPathComponent("bin").path, "HOME": dir.path]
        process.currentDirectoryURL = dir
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ([UInt8](data), process.terminationStatus)
    }
}

private let shells = ["/bin/sh", "/bin/bash"].filter { FileManager.default.isExecutableFile(atPath: $0) }

@Test(arguments: hostileValues)
func posixQuotedValueReachesTheRealShellUnchanged(_ value: String) throws {
    let template = try CommandTemplate.parse("printf %s {{version}}").get()
    let command = try template.render([.version: value], for: .linux).get()
    let sandbox = try Sandbox()
    defer { sandbox.remove() }
    for shell in shells {
        let result = try sandbox.run(shell, command)
        #expect(result.status == 0, "\(shell) failed on \(command)")
        #expect(result.stdout == Array(value.utf8), "\(shell) printed something else for \(command)")
    }
    #expect(!FileManager.default.fileExists(atPath: sandbox.canary.path), "a command ran: \(command)")
}

@Test func adjacentVariablesStayDistinctWordsInTheRealShell() throws {
    let template = try CommandTemplate.parse("printf '[%s]' {{version}} {{host}}{{procedure}} x{{previous}}y").get()
    let values: [TemplateVariable: String] = [.version: "a b", .host: "'", .procedure: "$(reboot)", .previous: "*"]
    let command = try template.render(values, for: .linux).get()
    let sandbox = try Sandbox()
    defer { sandbox.remove() }
    let result = try sandbox.run("/bin/sh", command)
    #expect(String(decoding: result.stdout, as: UTF8.self) == "[a b]['$(reboot)][x*y]")
    #expect(!FileManager.default.fileExists(atPath: sandbox.canary.path))
}

@Test func sandboxNoticesAnUnquotedValue() throws {
    // The harness can fail: the same values pasted in without quoting run the fake reboot and glob.
    let sandbox = try Sandbox()
    defer { sandbox.remove() }
    let result = try sandbox.run("/bin/sh", "printf %s $(reboot) *")
    #expect(FileManager.default.fileExists(atPath: sandbox.canary.path))
    #expect(result.stdout != Array("$(reboot) *".utf8))
}
