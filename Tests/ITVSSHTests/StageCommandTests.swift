import Foundation
import ITVCore
import ITVEngine
import Testing

@testable import ITVSSH

/// The commands around a stage's upload, without a fleet: the Linux ones run through the machine's own
/// `/bin/sh` on files in a temporary directory; the Windows ones are checked as the script PowerShell would
/// decode from `-EncodedCommand` (no Windows host here).
@Suite("Stage commands")
struct StageCommandTests {
    static let content = Array("the installer".utf8)
    static let sha = ITVCore.SHA256.hexDigest(content)

    static func sh(_ command: String) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("itv-stagecmd-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("Linux: check makes the directory and prints the final file's hash; commit renames only a match")
    func linuxRoundTrip() throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A directory and name a shell would misread if they were not quoted.
        let placement = ArtifactPlacement(os: .linux, directory: root + "/it's $(touch pwned) dir", name: "a b;c.msi")
        let commands = StageCommands(placement: placement, sha256: Self.sha)

        var (status, out) = try Self.sh(commands.check)
        #expect(status == 0 && out.isEmpty)
        #expect(FileManager.default.fileExists(atPath: placement.directory))
        #expect(!FileManager.default.fileExists(atPath: "pwned"))

        // Another file's bytes under the temporary name: removed, final name untouched, exit 3 with the hash.
        let temporary = placement.temporaryPath(sha256: Self.sha)
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: temporary))
        (status, out) = try Self.sh(commands.commit)
        #expect(status == StageCommands.mismatchStatus)
        #expect(StageCommands.hash(in: out) == ITVCore.SHA256.hexDigest(Array("tampered".utf8)))
        #expect(!FileManager.default.fileExists(atPath: temporary))
        #expect(!FileManager.default.fileExists(atPath: placement.path))

        // The right bytes: renamed to the final name, which check then reports.
        try Data(Self.content).write(to: URL(fileURLWithPath: temporary))
        (status, out) = try Self.sh(commands.commit)
        #expect(status == 0 && StageCommands.hash(in: out) == Self.sha)
        #expect(!FileManager.default.fileExists(atPath: temporary))
        #expect(FileManager.default.contents(atPath: placement.path) == Data(Self.content))
        (status, out) = try Self.sh(commands.check)
        #expect(status == 0 && StageCommands.hash(in: out) == Self.sha)

        // A commit with nothing uploaded fails without touching the final file.
        (status, _) = try Self.sh(commands.commit)
        #expect(status != 0 && status != StageCommands.mismatchStatus)
        #expect(FileManager.default.contents(atPath: placement.path) == Data(Self.content))
    }

    /// What goes over the wire to a Windows host for `command`, as `SSHConnection.run` sends every step.
    static func wire(_ command: String) -> String {
        CommandWrapper.wrap(command, os: .windows, timeout: .seconds(60), killAfter: .seconds(5))
    }

    /// The script a Windows host runs: base64 of UTF-16LE after `-EncodedCommand`, which must come with
    /// `-ExecutionPolicy Bypass` (under `Restricted`, Windows PowerShell 5.1 cannot load the script module that
    /// holds `Get-FileHash`).
    static func decoded(_ line: String) -> String? {
        let prefix = "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "
        guard line.hasPrefix(prefix), let data = Data(base64Encoded: String(line.dropFirst(prefix.count))),
            data.count % 2 == 0
        else { return nil }
        let units = stride(from: 0, to: data.count, by: 2).map { UInt16(data[$0]) | UInt16(data[$0 + 1]) << 8 }
        return String(decoding: units, as: UTF16.self)
    }

    @Test("Linux: check removes temporary files of stages abandoned more than a day ago, and nothing else")
    func linuxCheckRemovesAbandonedTemporaryFiles() throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let placement = ArtifactPlacement(os: .linux, directory: root + "/cache dir", name: "app.msi")
        let commands = StageCommands(placement: placement, sha256: Self.sha)
        try FileManager.default.createDirectory(atPath: placement.directory + "/sub", withIntermediateDirectories: true)
        let now = Date()
        let old = now.addingTimeInterval(-Double(StageCommands.leftoverMinutes + 60) * 60)
        let young = now.addingTimeInterval(-Double(StageCommands.leftoverMinutes - 60) * 60)
        // name -> mtime, and whether check may remove it.
        let files: [(String, Date, Bool)] = [
            (".itv-stage-00112233aabbccdd.part", old, true),  // another artifact's stage, abandoned
            ((placement.temporaryPath(sha256: Self.sha) as NSString).lastPathComponent, old, true),
            (".itv-stage-4455667788990011.part", young, false),  // written within the day: may be in flight
            (".itv-stage-fresh.part", now, false),
            ("app.msi.part", old, false),  // not a stage's name
            ("installer.msi", old, false),
            ("sub/.itv-stage-2233445566778899.part", old, false),  // not in the directory itself
        ]
        #expect(files[1].0.hasPrefix(".itv-stage-") && files[1].0.hasSuffix(".part"))
        for (name, date, _) in files {
            let path = placement.directory + "/" + name
            try Data("x".utf8).write(to: URL(fileURLWithPath: path))
            try FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: path)
        }
        let (status, out) = try Self.sh(commands.check)
        #expect(status == 0 && out.isEmpty)
        for (name, _, removed) in files {
            #expect(FileManager.default.fileExists(atPath: placement.directory + "/" + name) == !removed, "\(name)")
        }
        // A find that fails (missing or broken) does not fail the check: the hash still comes.
        let bin = root + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try "#!/bin/sh\nexit 1\n".write(toFile: bin + "/find", atomically: true, encoding: .utf8)
        chmod(bin + "/find", 0o755)
        try Data(Self.content).write(to: URL(fileURLWithPath: placement.path))
        let (again, hash) = try Self.sh("PATH=\(ShellQuote.posix(bin)):$PATH; export PATH; " + commands.check)
        #expect(again == 0 && StageCommands.hash(in: hash) == Self.sha)
    }

    @Test("Windows: Get-FileHash on literal paths, PowerShell-quoted, rename only after the hash matched")
    func windowsRendering() throws {
        let placement = ArtifactPlacement(os: .windows, directory: #"C:\ProgramData\itv\cache"#, name: "7z’24 x64.msi")
        let commands = StageCommands(placement: placement, sha256: Self.sha)
        let check = try #require(Self.decoded(Self.wire(commands.check)))
        // Encoded once, by the same wrapper as every step: the host runs the script, not a second PowerShell.
        #expect(check == commands.check)
        #expect(!check.contains("powershell.exe") && check.hasPrefix("$ErrorActionPreference = 'Stop'"))
        #expect(check.contains(#"[System.IO.Directory]::CreateDirectory('C:\ProgramData\itv\cache')"#))
        // Abandoned stages' temporary files (a day without a write) go; a failure there is not the check's.
        #expect(check.contains(#"Get-ChildItem -LiteralPath 'C:\ProgramData\itv\cache' -Filter '.itv-stage-*.part'"#))
        #expect(check.contains("AddMinutes(-\(StageCommands.leftoverMinutes))") && check.contains("} catch {}"))
        let cleanup = try #require(check.range(of: "Get-ChildItem"))
        let hash = try #require(check.range(of: "Get-FileHash"))
        #expect(cleanup.lowerBound < hash.lowerBound)
        // U+2019 ends a PowerShell single-quoted string unless doubled.
        #expect(
            check.contains(#"Get-FileHash -LiteralPath 'C:\ProgramData\itv\cache\7z’’24 x64.msi' -Algorithm SHA256"#))
        let commit = try #require(Self.decoded(Self.wire(commands.commit)))
        #expect(commit == commands.commit && !commit.contains("powershell.exe"))
        let temporary = #"'C:\ProgramData\itv\cache\.itv-stage-\#(Self.sha.prefix(16)).part'"#
        #expect(commit.contains("Get-FileHash -LiteralPath \(temporary) -Algorithm SHA256"))
        #expect(commit.contains("if ($h -ne '\(Self.sha)')"))
        #expect(commit.contains("Remove-Item -LiteralPath \(temporary) -Force"))
        #expect(commit.contains("exit 3"))
        // The rename comes after the comparison, never before.
        let compare = try #require(commit.range(of: "if ($h -ne"))
        let replace = try #require(commit.range(of: "[System.IO.File]::Replace("))
        let move = try #require(commit.range(of: "[System.IO.File]::Move("))
        #expect(compare.lowerBound < replace.lowerBound && compare.lowerBound < move.lowerBound)
        #expect(commands.sftpTemporaryPath == "/C:/ProgramData/itv/cache/.itv-stage-\(Self.sha.prefix(16)).part")
        // Nothing a shell on the way could re-quote: letters, digits, + / = only after the flag.
        let line = Self.wire(commands.commit)
        let encoded = try #require(line.range(of: "-EncodedCommand ")).upperBound
        #expect(line[encoded...].allSatisfy { $0.isLetter || $0.isNumber || "+/=".contains($0) })
    }

    @Test("Linux: the host's hash is OpenSSL's where it works, else sha256sum's; both give the same answer")
    func linuxHashFallsBackToSha256sum() throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let placement = ArtifactPlacement(os: .linux, directory: root + "/cache", name: "app.msi")
        let commands = StageCommands(placement: placement, sha256: Self.sha)
        #expect(commands.check.contains("openssl dgst -sha256 -r") && commands.commit.contains("sha256sum"))
        // An `openssl` that fails (missing, broken, FIPS-limited): sha256sum answers.
        let bin = root + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try "#!/bin/sh\necho 'openssl: not here' >&2\nexit 127\n".write(
            toFile: bin + "/openssl", atomically: true, encoding: .utf8)
        chmod(bin + "/openssl", 0o755)
        let broken = "PATH=\(ShellQuote.posix(bin)):$PATH; export PATH; "
        for prefix in ["", broken] {
            try? FileManager.default.removeItem(atPath: placement.path)
            var (status, out) = try Self.sh(prefix + commands.check)
            #expect(status == 0 && out.isEmpty)
            try Data(Self.content).write(to: URL(fileURLWithPath: placement.temporaryPath(sha256: Self.sha)))
            (status, out) = try Self.sh(prefix + commands.commit)
            #expect(status == 0 && StageCommands.hash(in: out) == Self.sha)
            (status, out) = try Self.sh(prefix + commands.check)
            #expect(status == 0 && StageCommands.hash(in: out) == Self.sha)
        }
        // Neither tool works: commit fails (status 4) and renames nothing.
        try "#!/bin/sh\nexit 1\n".write(toFile: bin + "/sha256sum", atomically: true, encoding: .utf8)
        chmod(bin + "/sha256sum", 0o755)
        try? FileManager.default.removeItem(atPath: placement.path)
        try Data(Self.content).write(to: URL(fileURLWithPath: placement.temporaryPath(sha256: Self.sha)))
        let (status, _) = try Self.sh(broken + commands.commit)
        #expect(status == 4 && !FileManager.default.fileExists(atPath: placement.path))
    }

    @Test("a hash is read only from the start of the output, 64 hex digits and no more")
    func hashParsing() {
        #expect(StageCommands.hash(in: Self.sha + "  -\n") == Self.sha)
        #expect(StageCommands.hash(in: Self.sha.uppercased() + "\r\n") == Self.sha)
        #expect(StageCommands.hash(in: "") == nil)
        #expect(StageCommands.hash(in: String(Self.sha.dropLast())) == nil)
        #expect(StageCommands.hash(in: Self.sha + "0") == nil)
        #expect(StageCommands.hash(in: "sha256sum: x: No such file") == nil)
    }

    @Test("the token bucket: a burst goes at once, then the debt is paid at the rate, over all callers")
    func tokenBucket() throws {
        let limiter = UploadRateLimiter(rate: 1_000_000, burst: 250_000)
        #expect(try #require(limiter.reserve(250_000, limit: .seconds(10))) < .milliseconds(20))
        let second = try #require(limiter.reserve(500_000, limit: .seconds(10)))
        #expect(second > .milliseconds(400) && second < .milliseconds(600))
        // A third caller queues behind the second's debt.
        let third = try #require(limiter.reserve(500_000, limit: .seconds(10)))
        #expect(third > .milliseconds(900))
        // Beyond the caller's deadline nothing is reserved.
        #expect(limiter.reserve(10_000_000, limit: .seconds(1)) == nil)
        #expect(UploadRateLimiter.chunk(rate: 0, chunk: 960_000) == 960_000)
        #expect(UploadRateLimiter.chunk(rate: 1_000_000, chunk: 960_000) == 240_000)
        #expect(UploadRateLimiter.chunk(rate: 1_000, chunk: 960_000) == 30_000)
    }
}
