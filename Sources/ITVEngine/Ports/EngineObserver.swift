import ITVCore

/// Told about each step and each settled host run, for counters (the metrics exporter). Called on the
/// engine's actor: an implementation must return at once (no I/O, no waiting).
public protocol EngineObserver: Sendable {
    /// A step ended after `seconds` on the monotonic clock. `outcome`: `ok` (exit 0), `failed` (another exit
    /// status), `not_run` (nothing was sent), `unknown` (sent, outcome not learned).
    func stepFinished(_ step: HostStep, outcome: String, seconds: Double)
    /// A host run ended: `succeeded`, `failed`, `unknown`, `rolled_back`, `rollback_failed`.
    func hostRunSettled(outcome: String)
}

extension RolloutEngine {
    /// Sets who is told about steps and host runs (the daemon's metrics).
    public func setObserver(_ observer: (any EngineObserver)?) { self.observer = observer }

    static func outcome(of result: StepResult) -> String {
        switch result {
        case .exited(let code, _, _): code == 0 ? "ok" : "failed"
        case .notRun: "not_run"
        case .unknown: "unknown"
        }
    }

    func observe(_ notice: RolloutNotice) {
        guard let observer else { return }
        switch notice {
        case .hostSucceeded: observer.hostRunSettled(outcome: "succeeded")
        case .hostFailed: observer.hostRunSettled(outcome: "failed")
        case .hostUnknown: observer.hostRunSettled(outcome: "unknown")
        case .hostRolledBack(_, let ok, _): observer.hostRunSettled(outcome: ok ? "rolled_back" : "rollback_failed")
        default: break
        }
    }
}
