import Foundation
import ITVCore
import Logging

// The journal voice of rollouts: notable moments in the operators' words, with stable event names.
extension RolloutEngine {
    func announce(_ notice: RolloutNotice, rollout id: Int64) {
        guard let machine = machines[id] else { return }
        let r = machine.rollout
        var meta: Logger.Metadata = ["rollout": "\(id)", "procedure": "\(r.procedure)", "version": "\(r.version)"]
        func wave(_ i: Int) -> String {
            meta["wave"] = "\(i + 1)"
            return
                "wave \(i + 1) (\(machine.snapshot.waves.indices.contains(i) ? machine.snapshot.waves[i].name : "?"))"
        }
        func host(_ h: String) -> String {
            meta["host"] = "\(h)"
            if let run = machine.hostRun(h) { meta["wave"] = "\(run.wave + 1)" }
            if let tenant = set.inventory.host(named: h)?.tenant { meta["tenant"] = "\(tenant)" }
            return h
        }
        let head = "rollout \(id) (\(r.procedure) \(r.version))"
        let (level, event, message): (Logger.Level, ITVEvent, String)
        switch notice {
        case .waveWaiting(let w, let kind):
            (level, event, message) = (
                .notice, .waveWaiting,
                "\(head): \(wave(w)) waits for "
                    + (kind == .window ? "window \(r.recipe.window ?? "?") to open" : "an operator's approval")
            )
        case .waveApproved(let w, let by, let complete):
            (level, event, message) = (
                .notice, .waveApproved,
                "\(head): \(wave(w)) approved by \(by)"
                    + (complete ? "" : ", more approvals needed")
            )
            meta["user"] = "\(by)"
        case .waveStarted(let w): (level, event, message) = (.info, .waveStarted, "\(head): \(wave(w)) started")
        case .waveDone(let w): (level, event, message) = (.info, .waveSucceeded, "\(head): \(wave(w)) done")
        case .hostSucceeded(let h, let current):
            (level, event, message) = (
                .info, .hostSucceeded,
                "\(head): \(host(h)) "
                    + (current ? "already runs \(r.version)" : "now runs \(r.version)")
            )
        case .hostFailed(let h, let kind, let m):
            (level, event, message) = (.error, .hostFailed, "\(head): \(host(h)) failed (\(kind)): \(m)")
        case .hostUnknown(let h, let m):
            (level, event, message) = (.warning, .hostUnknown, "\(head): \(host(h)) outcome unknown: \(m)")
        case .hostRolledBack(let h, let ok, let m):
            (level, event, message) =
                ok
                ? (.notice, .hostRolledBack, "\(head): \(host(h)) rolled back")
                : (.error, .hostRollbackFailed, "\(head): \(host(h)) could not be rolled back: \(m ?? "")")
        case .halted(let reason): (level, event, message) = (.error, .rolloutHalted, "\(head) halted: \(reason)")
        case .paused: (level, event, message) = (.notice, .rolloutPaused, "\(head) paused")
        case .resumed: (level, event, message) = (.notice, .rolloutResumed, "\(head) resumed")
        case .aborted(let reason): (level, event, message) = (.warning, .rolloutAborted, "\(head) aborted: \(reason)")
        case .rollingBack(let reason):
            (level, event, message) = (.warning, .rolloutRollingBack, "\(head) rolling back: \(reason)")
        case .succeeded: (level, event, message) = (.notice, .rolloutSucceeded, "\(head) succeeded")
        case .rolledBack: (level, event, message) = (.notice, .rolloutRolledBack, "\(head) rolled back")
        case .failed(let reason): (level, event, message) = (.error, .rolloutFailed, "\(head) failed: \(reason)")
        case .hostileOutput(let h, let m):
            (level, event, message) = (
                .warning, .hostileOutput, "\(head): \(host(h)) sent output that was rejected: \(m)"
            )
        case .hostReboot(let h, let m):
            (level, event, message) = (.notice, .hostReboot, "\(head): \(host(h)) restarts: \(m)")
        case .hostDeferred(let h, let reason, let m, let retryAt):
            let wait = TimeSpan(seconds: max(0, retryAt - clock.now()) / 1000)
            meta["reason"] = "\(reason.rawValue)"
            (level, event, message) = (
                .notice, .hostDeferred,
                "\(head): \(host(h)) deferred (\(reason.rawValue.replacingOccurrences(of: "_", with: " "))): \(m); "
                    + "tried again in \(wait)"
            )
        case .hostUnreached(let h, let m):
            (level, event, message) = (.warning, .hostUnreached, "\(head): \(host(h)) unreached: \(m)")
        case .hostWoken(let h, let lead):
            let target = set.wakeOnLAN(for: h)
            meta["mac"] = "\(set.inventory.host(named: h)?.mac ?? "?")"
            (level, event, message) = (
                .info, .hostWake,
                "\(head): \(host(h)) woken: Wake-on-LAN packet to \(target.map { "\($0.address):\($0.port)" } ?? "?"), "
                    + "run in \(TimeSpan(seconds: lead))"
            )
        case .catchingUp(let deferred):
            (level, event, message) = (
                .notice, .rolloutCatchingUp,
                "\(head): every wave done; catching up \(deferred) deferred host(s)"
            )
        case .incomplete(let unreached, let count):
            (level, event, message) = (
                .warning, .rolloutIncomplete,
                "\(head) incomplete: \(count) host(s) unreached: \(unreached.joined(separator: ", "))"
                    + (count > unreached.count ? ", ..." : "")
            )
        }
        meta["event"] = "\(event.rawValue)"
        logger.log(level: level, "\(message)", metadata: meta)
    }
}
