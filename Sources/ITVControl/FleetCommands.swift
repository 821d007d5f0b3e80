import ArgumentParser
import Foundation
import ITVProtocol

struct ProcedureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "procedure", abstract: "Procedures (business applications).", subcommands: [List.self, Show.self])

    struct List: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Procedures, latest release, versions deployed.")
        @OptionGroup var global: GlobalOptions

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let (list, raw) = try api.get(ProcedureListResponse.self, .procedureList)
            if global.json { return Output.json(raw) }
            Output.table(
                ["PROCEDURE", "NAME", "VENDOR", "HOSTS", "LATEST", "DEPLOYED"],
                list.procedures.map { p in
                    [p.id, p.name, p.vendor, String(p.hostCount), p.latestRelease ?? "-", deployed(p.deployed)]
                })
        }
    }

    struct Show: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "One procedure: waves, releases, hosts, rollouts.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The procedure id.") var id: String

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let (detail, raw) = try api.get(ProcedureDetail.self, .procedureShow, [id])
            if global.json { return Output.json(raw) }
            let p = detail.procedure
            print("\(p.id): \(Output.safe(p.name)) (\(Output.safe(p.vendor)))")
            print(
                "targets: \(Output.safe(p.targets.joined(separator: ", "))); \(p.hostCount) hosts; scheme \(p.scheme)")
            if let url = p.feedUrl { print("feed: \(p.feedKind ?? "-") \(Output.safe(url))") }
            print("latest release: \(Output.safe(p.latestRelease)); deployed: \(Output.safe(deployed(p.deployed)))")
            print("\nwaves:")
            Output.table(
                ["WAVE", "NAME", "APPROVAL", "BAKE", "HOSTS"],
                detail.waves.map { w in
                    [
                        String(w.index + 1), w.name, approvalWords(w.approval, w.approvalsNeeded),
                        Output.span(w.bakeSeconds),
                        String(w.hosts.count),
                    ]
                })
            print("\nhosts:")
            Output.table(
                ["HOST", "VERSION", "SEEN", "CURRENT"],
                detail.hosts.map { h in
                    [h.host, h.version ?? "-", Output.time(h.seenAt), h.current ? "yes" : "no"]
                })
            print("\nreleases:")
            Output.table(
                ["VERSION", "FIRST SEEN"], detail.releases.map { [$0.version, Output.time($0.firstSeenAt)] })
            print("\nrollouts:")
            Output.table(
                ["ROLLOUT", "VERSION", "STATE", "CREATED"],
                detail.rollouts.map {
                    [String($0.id), $0.version, Output.words($0.phase.rawValue), Output.time($0.createdAt)]
                })
        }
    }
}

func deployed(_ counts: [VersionCount]) -> String {
    counts.isEmpty ? "-" : counts.map { "\($0.version ?? "none") x\($0.hosts)" }.joined(separator: ", ")
}

func approvalWords(_ kind: ApprovalKindInfo, _ needed: Int) -> String {
    switch kind {
    case .auto: return "auto"
    case .window: return "window"
    case .operator: return needed > 1 ? "operator x\(needed)" : "operator"
    }
}

struct ReleaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release", abstract: "Releases seen in vendor feeds.", subcommands: [List.self])

    struct List: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Releases seen in feeds, newest first.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this procedure.") var procedure: String?

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let request = ReleaseListRequest(procedure: procedure)
            let (list, raw) = try api.get(ReleaseListResponse.self, .releaseList, query: request.queryItems)
            if global.json { return Output.json(raw) }
            // The ARTIFACT column only when some procedure has an `artifact:` block.
            guard list.releases.contains(where: { $0.artifactState != nil }) else {
                return Output.table(
                    ["PROCEDURE", "VERSION", "FIRST SEEN", "FEED"],
                    list.releases.map { [$0.procedure, $0.version, Output.time($0.firstSeenAt), $0.feedUrl] })
            }
            Output.table(
                ["PROCEDURE", "VERSION", "FIRST SEEN", "ARTIFACT", "FEED"],
                list.releases.map { r in
                    let artifact: String
                    switch r.artifactState {
                    case "verified": artifact = "verified \(String((r.artifactSha256 ?? "").prefix(16)))"
                    case "rejected": artifact = "REJECTED (\(r.artifactRejection ?? "?"))"
                    default: artifact = r.artifactState ?? "-"
                    }
                    return [r.procedure, r.version, Output.time(r.firstSeenAt), artifact, r.feedUrl]
                })
        }
    }
}

struct FeedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed", abstract: "Vendor feeds.", subcommands: [Check.self])

    struct Check: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Poll feeds now.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Procedure ids (default: every procedure with a feed).") var ids: [String] = []

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let (answer, raw) = try api.post(
                FeedCheckResponse.self, .feedCheck, body: FeedCheckRequest(procedures: ids))
            let failed = answer.results.filter { !$0.ok }
            if global.json {
                Output.json(raw)
            } else {
                Output.table(
                    ["PROCEDURE", "RESULT", "LATEST", "NEW"],
                    answer.results.map { r in
                        [
                            r.procedure,
                            r.ok ? "ok" : "failed: " + (r.error.map { "\($0.kind): \($0.message)" } ?? "?"),
                            r.latest ?? "-", r.newReleases.isEmpty ? "-" : r.newReleases.joined(separator: ", "),
                        ]
                    })
            }
            if !failed.isEmpty {
                throw ClientFailure(
                    exitCode: 1, message: "\(failed.count) feed(s) could not be checked", documentPrinted: global.json)
            }
        }
    }
}

struct HostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host", abstract: "Hosts and what they run.", subcommands: [List.self, Scan.self])

    struct List: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Which host runs which version (drift).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this procedure.") var procedure: String?
        @Option(help: "Only hosts of this group.") var group: String?
        @Option(help: "Only hosts of this tenant.") var tenant: String?

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let request = HostListRequest(procedure: procedure, group: group, tenant: tenant)
            let (list, raw) = try api.get(HostListResponse.self, .hostList, query: request.queryItems)
            if global.json { return Output.json(raw) }
            var rows: [[String]] = []
            for host in list.hosts {
                if host.procedures.isEmpty { rows.append([host.name, host.tenant, "-", "-", "-", "-"]) }
                let reboot = Set(host.rebootPending ?? [])
                for p in host.procedures {
                    rows.append([
                        host.name, host.tenant, p.procedure, p.version ?? "-", p.latest ?? "-",
                        Self.state(p) + (reboot.contains(p.procedure) ? ", reboot pending" : ""),
                    ])
                }
            }
            Output.table(["HOST", "TENANT", "PROCEDURE", "VERSION", "LATEST", "STATE"], rows)
        }

        /// current: runs the latest release; behind: runs another version; not scanned: no detect result yet;
        /// no release: the feed has offered nothing yet.
        static func state(_ p: InstalledVersion) -> String {
            if let id = p.rolloutId, let state = p.rolloutState {
                let why = state == "deferred" ? p.deferReason.map { " (\(Output.words($0)))" } ?? "" : ""
                return "\(Self.plainState(p)), \(Output.words(state))\(why) in rollout \(id)"
            }
            return plainState(p)
        }

        static func plainState(_ p: InstalledVersion) -> String {
            if p.current { return "current" }
            if p.seenAt == nil { return "not scanned" }
            if p.latest == nil { return "no release" }
            return p.version == nil ? "not installed" : "behind"
        }
    }

    struct Scan: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Run detect on hosts now.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this procedure.") var procedure: String?
        var timeoutSeconds: Int { 0 }

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let (answer, raw) = try api.post(
                HostScanResponse.self, .hostScan, body: HostScanRequest(procedure: procedure))
            if global.json { return Output.json(raw) }
            Output.table(
                ["HOST", "PROCEDURE", "VERSION", "ERROR"],
                answer.results.map { r in
                    [r.host, r.procedure, r.version ?? "-", r.error.map { "\($0.kind): \($0.message)" } ?? ""]
                })
        }
    }
}
