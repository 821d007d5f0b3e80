import ArgumentParser
import Foundation
import ITVCore
import ITVProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// `rollout watch RID`: follows the rollout until it ends or waits for a person.
struct WatchCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Live progress until the rollout finishes or waits for a person.",
        discussion: "Exits 0 when the rollout succeeded, 1 when it ended otherwise, 2 when it waits for an approval.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The rollout id.") var rid: Int64
    var timeoutSeconds: Int { 0 }

    func execute(_ api: ControlAPI) throws(ClientFailure) {
        let terminal = !global.json && isatty(STDOUT_FILENO) == 1
        var state = WatchState()
        var drawnLines = 0
        let response = try api.http.stream(target: Route.rolloutEvents.path(String(rid)), head: api.checkProtocol) {
            (line: Data) throws(ClientFailure) -> Bool in
            guard let event = try? ITVJSON.decode(RolloutEvent.self, from: line) else { return true }  // newer kinds
            state.apply(event)
            if terminal {
                let text = state.detail.map(RolloutText.progress) ?? ""
                if drawnLines > 0 { print("\u{1b}[\(drawnLines)F\u{1b}[J", terminator: "") }
                print(text, terminator: "")
                drawnLines = text.filter { $0 == "\n" }.count
                fflush(nil)
            } else if !global.json {
                print(RolloutText.line(event, rid: rid))
                fflush(nil)
            }
            return !event.endsWatch
        }
        guard response.status == 200 else { throw api.failure(response) }
        guard let detail = state.detail else {
            throw ClientFailure(exitCode: 1, message: "itvd ended the watch of rollout \(rid) without any progress")
        }
        if global.json { Output.json(detail) }
        let phase = detail.rollout.phase
        if phase == .succeeded { return }
        if phase == .waitingApproval {
            if !global.json { print("rollout \(rid) waits for approval: itvctl rollout approve \(rid)") }
            throw ClientFailure(
                exitCode: 2, message: "rollout \(rid) waits for an approval", documentPrinted: global.json)
        }
        if phase.isFinal || phase.waitsForPerson {
            let state = phase.isFinal ? "ended: " : "waits for a person: "
            throw ClientFailure(
                exitCode: 1, message: "rollout \(rid) \(state)\(Output.words(phase.rawValue))",
                documentPrinted: global.json)
        }
        throw ClientFailure(
            exitCode: 1, message: "the watch of rollout \(rid) ended while it is \(Output.words(phase.rawValue))",
            documentPrinted: global.json)
    }
}

/// The rollout as the events tell it: a snapshot, then changes applied to it.
struct WatchState {
    var detail: RolloutDetail?

    mutating func apply(_ event: RolloutEvent) {
        switch event.kind {
        case .snapshot:
            detail = event.detail
        case .rollout:
            if let rollout = event.rollout { detail?.rollout = rollout }
        case .wave:
            if let wave = event.wave, let i = detail?.waves.firstIndex(where: { $0.index == wave.index }) {
                detail?.waves[i] = wave
            }
        case .hostRun:
            if let run = event.hostRun {
                if let i = detail?.hostRuns.firstIndex(where: { $0.host == run.host }) {
                    detail?.hostRuns[i] = run
                } else {
                    detail?.hostRuns.append(run)
                }
            }
        case .approval:
            if let approval = event.approval { detail?.approvals.append(approval) }
        }
    }
}

/// Rollouts in words.
enum RolloutText {
    /// A host run's state in words, with why it is deferred (`deferred (unreached)`).
    static func hostState(_ h: HostRunInfo) -> String {
        let state = Output.words(h.phase.rawValue)
        guard h.phase == .deferred, let reason = h.deferReason else { return state }
        return "\(state) (\(Output.words(reason)))"
    }

    static func summary(_ detail: RolloutDetail) -> String {
        let r = detail.rollout
        var text =
            "rollout \(r.id): \(r.procedure) to \(escapedForMessage(r.version, limit: 4_096)), \(Output.words(r.phase.rawValue))"
        if r.waveCount > 0 { text += ", wave \(min(r.currentWave + 1, r.waveCount)) of \(r.waveCount)" }
        let deferred = detail.hostRuns.filter { $0.phase == .deferred }.count
        let unreached = detail.hostRuns.filter { $0.phase == .unreached }.count
        let wakes = detail.hostRuns.reduce(0) { $0 + ($1.wakes ?? 0) }
        if deferred + unreached + wakes > 0 {
            text += "\nnot reached: \(deferred) deferred, \(unreached) unreached; Wake-on-LAN packets sent: \(wakes)"
        }
        text += "\nplan hash: \(r.planHash)\ncreated \(Output.time(r.createdAt)) by \(r.createdBy)"
        if let reason = r.reason { text += "\nreason: \(escapedForMessage(reason, limit: 4_096))" }
        return text
    }

    /// One bar per wave (done, failed, running, deferred, waiting), the state, and failed hosts with their
    /// error. Deferred and unreached hosts (switched off) are counted apart: they are not failures.
    static func progress(_ detail: RolloutDetail) -> String {
        var out = summary(detail) + "\n"
        let nameWidth = detail.waves.map { escapedForMessage($0.name, limit: 30).count }.max() ?? 0
        for wave in detail.waves {
            let runs = detail.hostRuns.filter { $0.wave == wave.index }
            let done = runs.filter { [.succeeded, .alreadyCurrent, .skipped, .rolledBack].contains($0.phase) }.count
            let failed = runs.filter { [.failed, .unknown, .rollbackFailed].contains($0.phase) }.count
            let running = runs.filter { [.running, .rollingBack].contains($0.phase) }.count
            let deferred = runs.filter { $0.phase == .deferred }.count
            let unreached = runs.filter { $0.phase == .unreached }.count
            let waiting = runs.count - done - failed - running - deferred - unreached
            let name = escapedForMessage(wave.name, limit: 30).padding(toLength: nameWidth, withPad: " ", startingAt: 0)
            out +=
                "wave \(wave.index + 1) \(name) "
                + bar(
                    done: done, failed: failed, running: running, total: runs.count, deferred: deferred + unreached)
                + " \(done) done, \(failed) failed, \(running) running, "
                + (deferred + unreached > 0
                    ? "\(deferred) deferred, " + (unreached > 0 ? "\(unreached) unreached, " : "") : "")
                + "\(waiting) waiting"
                + " (\(Output.words(wave.phase.rawValue)))\n"
        }
        let failedRuns = detail.hostRuns.filter { [.failed, .unknown, .rollbackFailed].contains($0.phase) }
        for run in failedRuns.prefix(20) {
            out +=
                "  \(escapedForMessage(run.host, limit: 4_096)): \(Output.words(run.phase.rawValue))"
                + (run.error.map { " - \(run.errorKind ?? "error"): \(escapedForMessage($0, limit: 200))" } ?? "")
                + "\n"
        }
        if failedRuns.count > 20 { out += "  ... and \(failedRuns.count - 20) more failed hosts\n" }
        let asleep = detail.hostRuns.filter { [.deferred, .unreached].contains($0.phase) }
        if !asleep.isEmpty {
            let names = asleep.prefix(20).map { escapedForMessage($0.host, limit: 4_096) }.joined(separator: ", ")
            out +=
                "  not reached: \(names)" + (asleep.count > 20 ? " and \(asleep.count - 20) more" : "")
                + " (deferred hosts are tried again; not failures)\n"
        }
        return out
    }

    /// `#` done, `!` failed, `>` running, `z` deferred or unreached (asleep), `.` waiting.
    static func bar(done: Int, failed: Int, running: Int, total: Int, width: Int = 30, deferred: Int = 0) -> String {
        guard total > 0 else { return "[" + String(repeating: " ", count: width) + "]" }
        func cells(_ n: Int) -> Int { (n * width + total - 1) / total }
        let d = min(cells(done), width)
        let f = min(cells(failed), width - d)
        let r = min(cells(running), width - d - f)
        let z = min(cells(deferred), width - d - f - r)
        return "[" + String(repeating: "#", count: d) + String(repeating: "!", count: f)
            + String(repeating: ">", count: r) + String(repeating: "z", count: z)
            + String(repeating: ".", count: width - d - f - r - z) + "]"
    }

    /// One line per event, for logs and pipes.
    static func line(_ event: RolloutEvent, rid: Int64) -> String {
        let time = Output.time(event.at)
        switch event.kind {
        case .snapshot:
            guard let detail = event.detail else { return "\(time) rollout \(rid)" }
            let r = detail.rollout
            return "\(time) rollout \(rid) \(r.procedure) \(escapedForMessage(r.version, limit: 4_096)): "
                + "\(Output.words(r.phase.rawValue)), wave \(min(r.currentWave + 1, max(r.waveCount, 1))) of \(r.waveCount)"
        case .rollout:
            guard let r = event.rollout else { return "\(time) rollout \(rid)" }
            return "\(time) rollout \(rid): \(Output.words(r.phase.rawValue))"
                + (r.reason.map { " (\(escapedForMessage($0, limit: 200)))" } ?? "")
        case .wave:
            guard let w = event.wave else { return "\(time) wave" }
            return
                "\(time) wave \(w.index + 1) \(escapedForMessage(w.name, limit: 4_096)): \(Output.words(w.phase.rawValue))"
        case .hostRun:
            guard let h = event.hostRun else { return "\(time) host" }
            return
                "\(time) host \(escapedForMessage(h.host, limit: 4_096)) (wave \(h.wave + 1)): \(Output.words(h.phase.rawValue))"
                + (h.rebootPending == true ? ", reboot pending" : "")
                + (h.step.map { " at \($0.rawValue)" } ?? "")
                + (h.error.map { " - \(h.errorKind ?? "error"): \(escapedForMessage($0, limit: 200))" } ?? "")
        case .approval:
            guard let a = event.approval else { return "\(time) approval" }
            return "\(time) wave \(a.wave + 1) approved by \(a.user) (\(a.source.rawValue))"
        }
    }
}
