import Foundation
import Testing

/// `scripts/install.sh BINDIR DESTDIR PREFIX`, as `make install` runs it.
@Suite("make install layout")
struct InstallTests {
    static func install(into destdir: String, prefix: String) async throws -> CommandResult {
        try await run("/bin/bash", [packageRoot + "/scripts/install.sh", try builtBinDir(), destdir, prefix])
    }

    @Test("DESTDIR and PREFIX=/usr: binaries, units, catalog, sysusers, tmpfiles and config in place")
    func layoutForUsr() async throws {
        let dest = try TempDir()
        let result = try await Self.install(into: dest.path, prefix: "/usr")
        try #require(result.status == 0, "\(result.stderr)")
        let root = dest.path
        let files = [
            "/usr/bin/itvd", "/usr/bin/itvctl",
            "/usr/lib/systemd/system/itvd.service", "/usr/lib/systemd/system/itvd.socket",
            "/usr/lib/systemd/system/itv-window@.service", "/usr/lib/systemd/system/itv-window@.timer",
            "/usr/lib/systemd/catalog/itvd.catalog", "/usr/lib/sysusers.d/itvd.conf", "/usr/lib/tmpfiles.d/itvd.conf",
            "/etc/itvd/itvd.yaml",
        ]
        for file in files {
            #expect(FileManager.default.fileExists(atPath: root + file), "\(file) missing")
        }
        #expect(FileManager.default.isExecutableFile(atPath: root + "/usr/bin/itvd"))
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: root + "/etc/itvd/playbooks", isDirectory: &isDirectory))
        #expect(isDirectory.boolValue)

        // Installed units name the binaries under PREFIX, and nothing under /usr/local is left.
        let service = try String(contentsOfFile: root + "/usr/lib/systemd/system/itvd.service", encoding: .utf8)
        #expect(service.contains("\nExecStart=/usr/bin/itvd run --config /etc/itvd/itvd.yaml\n"))
        #expect(service.contains("\nExecReload=/usr/bin/itvctl reload\n"))
        let window = try String(contentsOfFile: root + "/usr/lib/systemd/system/itv-window@.service", encoding: .utf8)
        #expect(window.contains("\nExecStart=/usr/bin/itvctl window open %i\n"))
        for file in files where !file.hasSuffix("/itvd") && !file.hasSuffix("/itvctl") {
            let text = try String(contentsOfFile: root + file, encoding: .utf8)
            #expect(!text.contains("/usr/local"), "\(file) still names /usr/local")
        }

        // systemd's own tools accept the installed sysusers and tmpfiles files inside DESTDIR.
        let sysusers = try await run("/usr/bin/systemd-sysusers", ["--root=" + root])
        #expect(sysusers.status == 0, "\(sysusers.stderr)")
        let group = try String(contentsOfFile: root + "/etc/group", encoding: .utf8)
        #expect(group.split(separator: "\n").contains { $0.hasPrefix("itv:") && $0.hasSuffix(":itvd") })
        #expect(group.contains("itv-operators:"))
        let passwd = try String(contentsOfFile: root + "/etc/passwd", encoding: .utf8)
        #expect(passwd.contains("itvd:x:"))
        let tmpfiles = try await run("/usr/bin/systemd-tmpfiles", ["--root=" + root, "--create"])
        #expect(tmpfiles.status == 0, "\(tmpfiles.stderr)")
        #expect(FileManager.default.fileExists(atPath: root + "/var/lib/itvd"))

        // The hand-written manual pages, and the examples in the repository's layout (examples/ next to
        // playbooks/), so that the installed example configuration passes `itvd check` as it is.
        for page in ["itvd.yaml.5", "itv-inventory.5", "itv-playbook.5"] {
            #expect(FileManager.default.fileExists(atPath: root + "/usr/share/man/man5/" + page), "\(page) missing")
        }
        let check = try await run(
            try builtBinDir() + "/itvd", ["check", "--config", root + "/usr/share/doc/itv/examples/itvd.yaml"])
        #expect(check.status == 0, "\(check.stderr)")
    }

    @Test("PREFIX=/usr/local lays out under /usr/local and keeps an existing config")
    func layoutForUsrLocalKeepsConfig() async throws {
        let dest = try TempDir()
        try FileManager.default.createDirectory(atPath: dest.path + "/etc/itvd", withIntermediateDirectories: true)
        try "# mine\n".write(toFile: dest.path + "/etc/itvd/itvd.yaml", atomically: true, encoding: .utf8)
        let result = try await Self.install(into: dest.path, prefix: "/usr/local")
        try #require(result.status == 0, "\(result.stderr)")
        #expect(try String(contentsOfFile: dest.path + "/etc/itvd/itvd.yaml", encoding: .utf8) == "# mine\n")
        let service = try String(
            contentsOfFile: dest.path + "/usr/local/lib/systemd/system/itvd.service", encoding: .utf8)
        #expect(service.contains("\nExecStart=/usr/local/bin/itvd run --config /etc/itvd/itvd.yaml\n"))
        #expect(FileManager.default.fileExists(atPath: dest.path + "/usr/local/lib/systemd/catalog/itvd.catalog"))
    }

    @Test("a relative PREFIX is refused")
    func relativePrefix() async throws {
        let dest = try TempDir()
        let result = try await Self.install(into: dest.path, prefix: "usr")
        #expect(result.status == 64)
        #expect(result.stderr.contains("PREFIX must be an absolute path"))
    }
}
