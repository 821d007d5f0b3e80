import ArgumentParser
import Foundation
import ITVCore
import ITVProtocol

struct RolloutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout", abstract: "Plan, start, approve and control rollouts.",
        subcommands: [
            Plan.self, Start.self, List.self, Show.self, Approve.self, Pause.self, Resume.self, Abort.self,
            Rollback.self, Retry.self, Skip.self, WatchCommand.self,
        ])

    struct Plan: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Preview waves and hosts, with the plan hash.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The procedure id.") var id: String
        @Option(help: "The target version (default: the newest release).") var version: String?

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let request = RolloutPlanRequest(version: version)
            let (plan, raw) = try api.get(RolloutPlanResponse.self, .rolloutPlan, [id], query: request.queryItems)
            if global.json { return Output.json(raw) }
            print(
                "plan for \(plan.procedure) \(Output.safe(plan.version)): \(plan.hostCount) hosts in "
                    + "\(plan.waves.count) waves")
            print("plan hash: \(plan.planHash)")
            if let a = plan.artifact { print(artifactLine(a)) }
            for wave in plan.waves {
                var facts = [approvalWords(wave.approval, wave.approvalsNeeded)]
                if wave.bakeSeconds > 0 { facts.append("bake \(Output.span(wave.bakeSeconds))") }
                if let parallel = wave.parallel { facts.append("parallel \(parallel)") }
                print(
                    "\nwave \(wave.index + 1) \(Output.safe(wave.name)) (\(facts.joined(separator: ", "))): "
                        + "\(wave.hosts.count) hosts")
                print(hostColumns(wave.hosts))
            }
        }
    }

    struct Start: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Create a rollout; prints its id.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The procedure id.") var id: String
        @Option(help: "The target version (default: the newest release).") var version: String?
        @Option(help: "Why, for the audit trail.") var comment: String?

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let body = RolloutStartRequest(procedure: id, version: version, comment: comment)
            let (answer, raw) = try api.post(RolloutActionResponse.self, .rolloutStart, body: body)
            if global.json { return Output.json(raw) }
            print(answer.rollout.id)
            FileHandle.standardError.write(Data((Output.safe(answer.message) + "\n").utf8))
        }
    }

    struct List: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Rollouts, newest first.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Include finished rollouts (a page of the newest; see --before).") var all = false
        @Option(help: "With --all: at most this many rollouts (1 to 1000, default 1000).") var limit: Int?
        @Option(help: "With --all: only rollouts with an id below this (the next page).") var before: Int64?

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let request = RolloutListRequest(all: all, limit: limit, before: before)
            let (list, raw) = try api.get(RolloutListResponse.self, .rolloutList, query: request.queryItems)
            if let next = list.nextBefore {
                // Never silent about what a page leaves out.
                let again =
                    ["itvctl", "rollout", "list", "--all"] + (limit.map { ["--limit", String($0)] } ?? [])
                    + ["--before", String(next)]
                FileHandle.standardError.write(
                    Data("more: older rollouts exist; next page: \(again.joined(separator: " "))\n".utf8))
            }
            if global.json { return Output.json(raw) }
            Output.table(
                ["ROLLOUT", "PROCEDURE", "VERSION", "STATE", "WAVE", "HOSTS", "CREATED", "BY"],
                list.rollouts.map { r in
                    [
                        String(r.id), r.procedure, r.version, Output.words(r.phase.rawValue),
                        "\(min(r.currentWave + 1, r.waveCount))/\(r.waveCount)", hostCountWords(r.hostCounts),
                        Output.time(r.createdAt), r.createdBy,
                    ]
                })
        }
    }

    struct Show: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "One rollout: waves and host runs.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The rollout id.") var rid: Int64

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let (detail, raw) = try api.get(RolloutDetail.self, .rolloutShow, [String(rid)])
            if global.json { return Output.json(raw) }
            print(RolloutText.summary(detail))
            if let a = detail.artifact { print(artifactLine(a)) }
            print("")
            Output.table(
                ["WAVE", "NAME", "STATE", "APPROVAL", "HOSTS", "STARTED", "FINISHED"],
                detail.waves.map { w in
                    [
                        String(w.index + 1), w.name, Output.words(w.phase.rawValue),
                        approvalWords(w.approval, w.approvalsNeeded)
                            + (w.approval == .operator
                                ? " (\(w.approvalsGiven)/\(w.approvalsNeeded))" : ""),
                        String(w.hosts.count), Output.time(w.startedAt), Output.time(w.finishedAt),
                    ]
                })
            print("")
            Output.table(
                ["HOST", "WAVE", "STATE", "STEP", "PREVIOUS", "WAKES", "NEXT TRY", "ERROR"],
                detail.hostRuns.map { h in
                    [
                        h.host, String(h.wave + 1),
                        RolloutText.hostState(h) + (h.rebootPending == true ? ", reboot pending" : ""),
                        h.step?.rawValue ?? "-",
                        h.previous ?? "-", h.wakes.map(String.init) ?? "-", Output.time(h.nextAttemptAt),
                        h.error.map { "\(h.errorKind ?? "error"): \($0)" } ?? "",
                    ]
                })
            if !detail.approvals.isEmpty {
                print("")
                Output.table(
                    ["WAVE", "BY", "UID", "SOURCE", "AT", "COMMENT"],
                    detail.approvals.map { a in
                        [
                            String(a.wave + 1), a.user, String(a.uid), a.source.rawValue, Output.time(a.at),
                            a.comment ?? "",
                        ]
                    })
            }
        }
    }

    struct Approve: ClientCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve the wave that waits; shows what is approved, and sends the plan hash shown.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The rollout id.") var rid: Int64
        @Option(help: "Why, for the audit trail.") var comment: String?

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let (detail, _) = try api.get(RolloutDetail.self, .rolloutShow, [String(rid)])
            let rollout = detail.rollout
            guard rollout.phase == .waitingApproval,
                let wave = detail.waves.first(where: { $0.index == rollout.currentWave })
            else {
                throw ClientFailure(
                    exitCode: 1,
                    message: "conflict: rollout \(rid) has no wave waiting for approval (it is "
                        + "\(Output.words(rollout.phase.rawValue)))",
                    apiError: APIError(.conflict, "rollout \(rid) has no wave waiting for approval"))
            }
            if !global.json {
                print("approving rollout \(rid): \(rollout.procedure) to \(Output.safe(rollout.version))")
                print(
                    "wave \(wave.index + 1) \(Output.safe(wave.name)) (\(approvalWords(wave.approval, wave.approvalsNeeded)), "
                        + "\(wave.approvalsGiven) of \(wave.approvalsNeeded) approvals given): \(wave.hosts.count) hosts"
                )
                print(hostColumns(wave.hosts))
                if let a = detail.artifact { print(artifactLine(a)) }
                print("plan hash: \(rollout.planHash)")
            }
            let body = ApproveRequest(wave: wave.index, planHash: rollout.planHash, comment: comment)
            let (answer, raw) = try api.post(RolloutActionResponse.self, .rolloutApprove, [String(rid)], body: body)
            if global.json { return Output.json(raw) }
            print(Output.safe(answer.message))
        }
    }

    struct Pause: ControlVerb {
        static let configuration = CommandConfiguration(abstract: "Start no new host runs until resume.")
        static let route = Route.rolloutPause
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The rollout id.") var rid: Int64
        @Option(help: "Why, for the audit trail.") var reason: String?
    }

    struct Resume: ControlVerb {
        static let configuration = CommandConfiguration(abstract: "Continue a paused or halted rollout.")
        static let route = Route.rolloutResume
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The rollout id.") var rid: Int64
        @Option(help: "Why, for the audit trail.") var reason: String?
    }

    struct Abort: ControlVerb {
        static let configuration = CommandConfiguration(abstract: "Stop for good; running host runs finish.")
        static let route = Route.rolloutAbort
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The rollout id.") var rid: Int64
        @Option(help: "Why, for the audit trail.") var reason: String?
    }

    struct Rollback: ControlVerb {
        static let configuration = CommandConfiguration(abstract: "Run rollback on every host the rollout changed.")
        static let route = Route.rolloutRollback
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The rollout id.") var rid: Int64
        @Option(help: "Why, for the audit trail.") var reason: String?
    }

    struct Retry: HostVerb {
        static let configuration = CommandConfiguration(
            abstract: "Run a failed, unknown, deferred or unreached host again (a deferred one at once).")
        static let route = Route.rolloutRetry
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The rollout id.") var rid: Int64
        @Option(help: "The host.") var host: String
        @Option(help: "Why, for the audit trail.") var comment: String?
    }

    struct Skip: HostVerb {
        static let configuration = CommandConfiguration(
            abstract: "Settle a failed, unknown, deferred or unreached host without running it.")
        static let route = Route.rolloutSkip
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The rollout id.") var rid: Int64
        @Option(help: "The host.") var host: String
        @Option(help: "Why, for the audit trail.") var comment: String?
    }
}

/// pause, resume, abort, rollback: a rollout id and a reason.
protocol ControlVerb: ClientCommand {
    static var route: Route { get }
    var rid: Int64 { get }
    var reason: String? { get }
}

extension ControlVerb {
    func execute(_ api: ControlAPI) throws(ClientFailure) {
        let (answer, raw) = try api.post(
            RolloutActionResponse.self, Self.route, [String(rid)], body: RolloutControlRequest(reason: reason))
        if global.json { return Output.json(raw) }
        print(Output.safe(answer.message))
    }
}

/// retry, skip: a rollout id and a host.
protocol HostVerb: ClientCommand {
    static var route: Route { get }
    var rid: Int64 { get }
    var host: String { get }
    var comment: String? { get }
}

extension HostVerb {
    func execute(_ api: ControlAPI) throws(ClientFailure) {
        let (answer, raw) = try api.post(
            RolloutActionResponse.self, Self.route, [String(rid)], body: HostActionRequest(host: host, comment: comment)
        )
        if global.json { return Output.json(raw) }
        print(Output.safe(answer.message))
    }
}

/// Host names in columns, indented.
func hostColumns(_ hosts: [String]) -> String {
    guard !hosts.isEmpty else { return "  (no hosts)" }
    let names = hosts.map { escapedForMessage($0, limit: 100) }
    let width = (names.map(\.count).max() ?? 0) + 2
    let perLine = max(1, 100 / width)
    var lines: [String] = []
    var i = 0
    while i < names.count {
        let row = names[i..<min(i + perLine, names.count)]
        lines.append(
            "  "
                + row.map { $0.padding(toLength: width, withPad: " ", startingAt: 0) }.joined()
                .trimmingCharacters(in: .whitespaces))
        i += perLine
    }
    return lines.joined(separator: "\n")
}

func hostCountWords(_ counts: [String: Int]) -> String {
    let order = HostRunInfo.Phase.allCases.map(\.rawValue)
    let parts = counts.filter { $0.value > 0 }.sorted {
        (order.firstIndex(of: $0.key) ?? 99, $0.key) < (order.firstIndex(of: $1.key) ?? 99, $1.key)
    }
    return parts.isEmpty ? "-" : parts.map { "\($0.value) \(Output.words($0.key))" }.joined(separator: ", ")
}

/// The artifact of a plan, as operators approve it: file name, size and SHA-256.
func artifactLine(_ a: PlanArtifactInfo) -> String {
    "artifact: \(Output.safe(a.name)), \(a.size) bytes, sha256 \(a.sha256)"
}
