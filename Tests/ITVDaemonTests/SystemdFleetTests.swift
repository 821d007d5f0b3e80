import Foundation
import ITVCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built itvd on the SSH test fleet as systemd drives it: the patch-window service opens a window, and the
/// journal gets the key events. Serialized: one fleet at a time on 127.0.70.
@Suite("itvd on the SSH fleet under systemd", .serialized)
struct SystemdFleetTests {
    @Test("the itv-window@ service's command opens the window and an approval: window wave runs unattended")
    func windowServiceRunsTheWave() async throws {
        let dir = try DaemonDirectory()
        try dir.writePlaybook("app", fleetPlaybook("app", waves: ["{name: all, size: rest, approval: window}"]))
        try await SystemdFleet.with(3, in: dir) {
            let notify = try NotifySocket()
            try await withDaemon(try dir.startDaemon(environment: ["NOTIFY_SOCKET": notify.path])) { daemon in
                let ready = await notify.waitFor(from: daemon.pid, timeout: .seconds(120)) { $0.hasPrefix("READY=1") }
                try #require(ready != nil, "no READY=1; stderr: \(daemon.stderr)")
                let start = try await dir.ctl("rollout", "start", "app", "--version", "2.0.1")
                try #require(start.status == 0, "\(start.stderr)")
                let rid = start.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

                // The window is closed: the wave waits, nothing runs on any host.
                try await Task.sleep(for: .seconds(3))
                var view = try await dir.rollout(rid)
                #expect(view.phase == "waiting_approval", "\(view)")
                #expect(view.hostPhases == Self.hosts("pending"), "\(view)")
                #expect((1...3).allSatisfy { dir.installed(on: Self.host($0)) == nil })

                // What systemd runs for itv-window@evening.service: ExecStart= with %i, in a clean environment
                // (the unit's itvctl path replaced by the built one, the socket given by ITV_SOCKET).
                let command = try WindowUnit.execStart(instance: "evening", itvctl: dir.itvctl)
                let opened = try await runTool(
                    command[0], Array(command.dropFirst()),
                    environment: [
                        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "ITV_SOCKET": dir.socket,
                    ])
                #expect(opened.status == 0, "\(opened.stdout) \(opened.stderr)")
                #expect(opened.stdout.hasPrefix("window evening open until "), "\(opened.stdout)")
                // For the window's duration from itvd.yaml (1h).
                let windows = try await dir.ctlJSON("window", "list")["windows"] as? [[String: Any]] ?? []
                let evening = try #require(windows.first { $0["name"] as? String == "evening" })
                #expect(evening["open"] as? Bool == true)
                let openFor = (evening["open_until"] as? Int64 ?? 0) - (evening["changed_at"] as? Int64 ?? 0)
                #expect(openFor == 3_600_000, "\(evening)")

                let done = await waitUntil(.seconds(180)) { (try? await dir.rollout(rid))?.phase == "succeeded" }
                view = try await dir.rollout(rid)
                #expect(done, "\(view)")
                #expect(view.hostPhases == Self.hosts("succeeded"), "\(view)")
                #expect(view.approvalSources == ["window"], "no operator approval: \(view)")
                #expect((1...3).map { dir.installed(on: Self.host($0)) } == Array(repeating: "2.0.1", count: 3))
            }
        }
    }

    @Test("SIGTERM during a host's install: the step finishes, no new host run starts, exit 0; a restart goes on")
    func gracefulStopWithAStepInFlight() async throws {
        let dir = try DaemonDirectory()
        try dir.writePlaybook(
            "app",
            fleetPlaybook(
                "app", waves: ["{name: all, size: rest, approval: window, parallel: 1}"],
                install: "sleep 4; echo {{version}} > /opt/itv-host/app"))
        try await SystemdFleet.with(3, in: dir) {
            let notify = try NotifySocket()
            var rid = ""
            try await withDaemon(try dir.startDaemon(environment: ["NOTIFY_SOCKET": notify.path])) { daemon in
                let ready = await notify.waitFor(from: daemon.pid, timeout: .seconds(120)) { $0.hasPrefix("READY=1") }
                try #require(ready != nil, "no READY=1; stderr: \(daemon.stderr)")
                let start = try await dir.ctl("rollout", "start", "app", "--version", "4.2")
                try #require(start.status == 0, "\(start.stderr)")
                rid = start.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(try await dir.ctl("window", "open", "evening").status == 0)
                // One host at a time: the first one's install is under way.
                var installing: String?
                let inFlight = await waitUntil(.seconds(120)) {
                    let runs = (try? await dir.ctlJSON("rollout", "show", rid))?["host_runs"] as? [[String: Any]] ?? []
                    installing =
                        runs.first { $0["step"] as? String == "install" && $0["phase"] as? String == "running" }?[
                            "host"] as? String
                    return installing != nil
                }
                let whileInstalling = try await dir.rollout(rid)
                try #require(inFlight, "\(whileInstalling)")
                daemon.signal(SIGTERM)
                let stopping = await notify.waitFor(from: daemon.pid) { $0 == "STOPPING=1" }
                #expect(stopping != nil)
                #expect(await daemon.waitForExit(.seconds(60)) == 0, "\(daemon.stderr)")
                // The install in flight finished; no other host ran anything.
                let hosts = (1...3).map(Self.host)
                #expect(hosts.map { dir.installed(on: $0) } == hosts.map { $0 == installing ? "4.2" : nil })
            }

            // Started again on the same state: the rollout goes on in the still open window and succeeds.
            try await withDaemon(try dir.startDaemon(environment: ["NOTIFY_SOCKET": notify.path])) { daemon in
                let ready = await notify.waitFor(from: daemon.pid, timeout: .seconds(120)) { $0.hasPrefix("READY=1") }
                try #require(ready != nil, "no READY=1 after the restart; stderr: \(daemon.stderr)")
                let done = await waitUntil(.seconds(180)) { (try? await dir.rollout(rid))?.phase == "succeeded" }
                let view = try await dir.rollout(rid)
                #expect(done, "\(view)")
                #expect(view.hostPhases == Self.hosts("succeeded"), "\(view)")
                #expect((1...3).map { dir.installed(on: Self.host($0)) } == Array(repeating: "4.2", count: 3))
            }
        }
    }

    static func host(_ i: Int) -> String { String(format: "fleet-%03d", i) }

    static func hosts(_ phase: String) -> [String: String] {
        Dictionary(uniqueKeysWithValues: (1...3).map { (host($0), phase) })
    }
}

/// `units/itv-window@.service` read as systemd reads it, for the command it runs.
enum WindowUnit {
    static let path = repositoryRoot + "/units/itv-window@.service"

    /// The `ExecStart=` command line for `instance`, split as systemd splits a line without quotes; the
    /// unit's itvctl is replaced by `itvctl`. Throws on what this reader does not handle (quotes, escapes,
    /// specifiers other than %i, %I and %%), so that a change of the unit is noticed here.
    static func execStart(instance: String, itvctl: String) throws -> [String] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let values = lines.filter { $0.hasPrefix("ExecStart=") }.map { String($0.dropFirst("ExecStart=".count)) }
        guard values.count == 1, var line = values.first else {
            throw SystemdTestError("expected one ExecStart= in \(path), found \(values.count)")
        }
        while let first = line.first, "-@:+!".contains(first) { line.removeFirst() }
        guard !line.contains(where: { "\"'\\;".contains($0) }) else {
            throw SystemdTestError("ExecStart= uses quoting this test does not handle: \(line)")
        }
        var words = try line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { word in
            try specifiers(String(word), instance: instance)
        }
        guard let program = words.first, program.hasPrefix("/"), program.hasSuffix("/itvctl") else {
            throw SystemdTestError("ExecStart= does not run an absolute itvctl: \(line)")
        }
        words[0] = itvctl
        return words
    }

    static func specifiers(_ word: String, instance: String) throws -> String {
        var result = ""
        var iterator = word.makeIterator()
        while let c = iterator.next() {
            guard c == "%" else {
                result.append(c)
                continue
            }
            switch iterator.next() {
            case "i", "I": result += instance
            case "%": result += "%"
            case let other: throw SystemdTestError("specifier %\(other.map(String.init) ?? "") not handled")
            }
        }
        return result
    }
}
