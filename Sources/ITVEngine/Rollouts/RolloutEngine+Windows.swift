import Foundation
import ITVCore
import Logging

// Patch windows: opened and closed by operators, timed out by the clock.
extension RolloutEngine {
    /// Opens a declared window for `duration` (default: the window's configured duration). The audit entry
    /// says for how long, and the operator's comment.
    public func openWindow(_ name: String, duration: TimeSpan?, by requester: Requester, comment: String? = nil)
        async throws -> WindowRecord
    {
        guard let spec = set.config.windows[name] else {
            let declared = set.config.windows.keys.sorted()
            throw EngineError(
                .notFound,
                "no window \(name); declared: \(declared.isEmpty ? "none" : declared.joined(separator: ", "))")
        }
        let now = clock.now()
        let length = duration ?? spec.duration
        let record = WindowRecord(
            name: name, openUntil: now + length.seconds * 1000, changedBy: requester.user, changedAt: now)
        windows[name] = record
        try await persist(
            [
                .window(record),
                .audit(
                    audit(
                        requester, "window.open", "window \(name)",
                        ["for \(length)", comment].compactMap { $0 }.joined(separator: ": "))),
            ], actions: [])
        logger.notice(
            "window \(name) opened by \(requester.user) for \(length)",
            metadata: ["event": "\(ITVEvent.windowOpened.rawValue)", "user": "\(requester.user)", "window": "\(name)"])
        if let until = record.openUntil { workContinuation.yield(.windowEnd(name: name, until: until)) }
        await windowChanged(name, by: requester.user)
        return record
    }

    public func closeWindow(_ name: String, by requester: Requester, comment: String? = nil) async throws
        -> WindowRecord
    {
        guard set.config.windows[name] != nil || windows[name] != nil else {
            throw EngineError(.notFound, "no window \(name)")
        }
        let record = WindowRecord(name: name, openUntil: nil, changedBy: requester.user, changedAt: clock.now())
        windows[name] = record
        try await persist(
            [.window(record), .audit(audit(requester, "window.close", "window \(name)", comment))], actions: [])
        logger.notice(
            "window \(name) closed by \(requester.user)",
            metadata: ["event": "\(ITVEvent.windowClosed.rawValue)", "user": "\(requester.user)", "window": "\(name)"])
        await windowChanged(name, by: requester.user)
        return record
    }

    /// Every declared window with its state.
    public func windowList() -> [(spec: WindowSpec, record: WindowRecord?, open: Bool)] {
        set.config.windows.values.sorted { $0.name < $1.name }.map { ($0, windows[$0.name], isWindowOpen($0.name)) }
    }

    func windowTimeElapsed(_ name: String, until: EpochMillis) async {
        guard let record = windows[name], record.openUntil == until else { return }  // reopened or closed since
        let closed = WindowRecord(name: name, openUntil: nil, changedBy: "itvd", changedAt: clock.now())
        windows[name] = closed
        do {
            try await persist([.window(closed)], actions: [])
        } catch {
            return
        }
        logger.notice(
            "window \(name) closed: its time is up",
            metadata: ["event": "\(ITVEvent.windowClosed.rawValue)", "window": "\(name)"])
        await windowChanged(name, by: "itvd")
    }

    /// Tells the rollouts of a window that it opened or closed. Each gets the window's state as it is when
    /// its event is applied, not as it was when the change began: an open and a close at the same moment
    /// interleave here, and the last event a rollout gets must be the window's real state.
    func windowChanged(_ name: String, by user: String) async {
        for id in machines.keys.sorted() where machines[id]?.rollout.recipe.window == name {
            do {
                try await apply(id, .windowChanged(open: isWindowOpen(name), by: user))
            } catch {
                logger.error(
                    "rollout \(id): cannot apply window \(name) change: \(error)", metadata: ["rollout": "\(id)"])
            }
        }
        if !set.inventory.tenants(servedBy: name).isEmpty { await tenantWindowsChanged() }
    }
}
