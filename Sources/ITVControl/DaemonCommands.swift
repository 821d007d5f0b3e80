import ArgumentParser
import Foundation
import ITVProtocol

struct StatusCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "The daemon's health: version, uptime, counts, open windows, attention.")
    @OptionGroup var global: GlobalOptions

    func execute(_ api: ControlAPI) throws(ClientFailure) {
        let (status, raw) = try api.get(StatusResponse.self, .status)
        if global.json { return Output.json(raw) }
        let uptime = Output.span((status.now - status.startedAt) / 1000)
        print("itvd \(status.daemonVersion) (protocol \(status.protocolVersion)), up \(uptime)")
        print(
            "procedures: \(status.procedures)  hosts: \(status.hosts)  tenants: \(status.tenants)  "
                + "active rollouts: \(status.activeRollouts)")
        print("open windows: " + (status.openWindows.isEmpty ? "none" : status.openWindows.joined(separator: ", ")))
        if let reload = status.lastReloadAt { print("last reload: \(Output.time(reload))") }
        if !status.problems.isEmpty {
            print("problems (the last good playbooks and inventory keep running):")
            for problem in status.problems { print("  " + Output.safe(problem)) }
        }
        let reboots = status.rebootsPending ?? 0
        if status.attention.isEmpty, reboots == 0 {
            print("needs attention: nothing")
        } else if status.attention.isEmpty {
            print("needs attention: reboots pending on \(reboots) host(s) (itvctl host list)")
        } else {
            if reboots > 0 { print("needs attention: reboots pending on \(reboots) host(s) (itvctl host list)") }
            print("needs attention:")
            Output.table(
                ["ROLLOUT", "PROCEDURE", "VERSION", "STATE", "WAVE", "UNREACHED"],
                status.attention.map { r in
                    [
                        String(r.id), r.procedure, r.version, Output.words(r.phase.rawValue),
                        "\(min(r.currentWave + 1, r.waveCount))/\(r.waveCount)",
                        (r.hostCounts["unreached"] ?? 0) > 0 ? "\(r.hostCounts["unreached"] ?? 0) hosts" : "-",
                    ]
                })
        }
    }
}

struct WindowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "window", abstract: "Patch windows.", subcommands: [List.self, Open.self, Close.self])

    struct List: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Every window, open or closed.")
        @OptionGroup var global: GlobalOptions

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let (list, raw) = try api.get(WindowListResponse.self, .windowList)
            if global.json { return Output.json(raw) }
            Output.table(
                ["WINDOW", "STATE", "OPEN UNTIL", "DEFAULT", "TENANTS", "CHANGED BY", "CHANGED AT"],
                list.windows.map { w in
                    [
                        w.name, w.open ? "open" : "closed", w.open ? Output.time(w.openUntil) : "-",
                        Output.span(w.defaultDurationSeconds), w.tenants?.joined(separator: ",") ?? "all",
                        w.changedBy ?? "-", Output.time(w.changedAt),
                    ]
                })
        }
    }

    struct Open: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Open a window (unattended waves may start).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The window's name.") var name: String
        @Option(name: .customLong("for"), help: "How long (default: the window's configured duration).")
        var duration: DurationArgument?
        @Option(help: "Why, for the audit trail.") var comment: String?

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let body = WindowOpenRequest(durationSeconds: duration?.seconds, comment: comment)
            let (answer, raw) = try api.post(WindowActionResponse.self, .windowOpen, [name], body: body)
            if global.json { return Output.json(raw) }
            print(Output.safe(answer.message))
        }
    }

    struct Close: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Close a window.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The window's name.") var name: String
        @Option(help: "Why, for the audit trail.") var comment: String?

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let (answer, raw) = try api.post(
                WindowActionResponse.self, .windowClose, [name], body: WindowCloseRequest(comment: comment))
            if global.json { return Output.json(raw) }
            print(Output.safe(answer.message))
        }
    }
}

struct ReloadCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload", abstract: "Re-read playbooks and inventory (same as SIGHUP).")
    @OptionGroup var global: GlobalOptions

    func execute(_ api: ControlAPI) throws(ClientFailure) {
        let (answer, raw) = try api.post(ReloadResponse.self, .reload, body: ReloadRequest())
        if global.json {
            Output.json(raw)
        } else if answer.ok {
            print("reloaded: \(answer.procedures) procedures, \(answer.hosts) hosts")
            for warning in answer.warnings ?? [] { print("  warning: " + Output.safe(warning)) }
        } else {
            print("reload refused; the last good playbooks and inventory keep running:")
            for problem in answer.problems { print("  " + Output.safe(problem)) }
        }
        if !answer.ok {
            throw ClientFailure(
                exitCode: 1, message: "reload found \(answer.problems.count) problem(s)", documentPrinted: global.json)
        }
    }
}

struct AuditCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Who did what.",
        discussion: """
            Shows the newest entries (1,000 unless --limit says otherwise), oldest first. When older entries \
            exist, says so on stderr with the --before that shows the next page; --all fetches every page.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only entries of this recent period (e.g. 2h, 7d).") var since: DurationArgument?
    @Option(help: "Only entries older than this entry id (the next page, as the previous one said).")
    var before: Int64?
    @Option(help: "At most this many entries per page (1 to \(AuditRequest.maxLimit)).") var limit: Int?
    @Flag(help: "Fetch every page, not only the newest.") var all = false

    func validate() throws {
        if let limit, !(1...AuditRequest.maxLimit).contains(limit) {
            throw ValidationError("--limit must be from 1 to \(AuditRequest.maxLimit)")
        }
        if let before, before <= 0 { throw ValidationError("--before must be a positive entry id") }
    }

    func execute(_ api: ControlAPI) throws(ClientFailure) {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var request = AuditRequest(since: since.map { now - $0.seconds * 1000 }, limit: limit, before: before)
        var (answer, raw) = try api.get(AuditResponse.self, .audit, query: request.queryItems)
        if all {
            // Newest page first; each page is oldest first.
            var pages = [answer.entries]
            var seen = 1
            while let next = answer.nextBefore {
                guard next < (request.before ?? Int64.max), seen < 1_000_000 else { break }  // always older
                request.before = next
                (answer, _) = try api.get(AuditResponse.self, .audit, query: request.queryItems)
                pages.append(answer.entries)
                seen += 1
            }
            let entries = Array(pages.reversed().joined())
            if global.json { return Output.json(AuditResponse(entries: entries)) }
            return Self.table(entries)
        }
        if global.json {
            Output.json(raw)
        } else {
            Self.table(answer.entries)
        }
        if let next = answer.nextBefore {
            let again =
                ["itvctl audit"] + (since.map { _ in ["--since", Output.span(since?.seconds ?? 0)] } ?? [])
                + (limit.map { ["--limit", String($0)] } ?? []) + ["--before", String(next)]
            FileHandle.standardError.write(
                Data("more: older entries exist; next page: \(again.joined(separator: " ")) (or --all)\n".utf8))
        }
    }

    static func table(_ entries: [AuditEntry]) {
        Output.table(
            ["TIME", "USER", "UID", "ACTION", "TARGET", "OUTCOME", "COMMENT"],
            entries.map { e in
                [Output.time(e.at), e.user, String(e.uid), e.action, e.target, e.outcome, e.comment ?? ""]
            })
    }
}
