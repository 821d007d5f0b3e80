import ITVProtocol
import Synchronization

/// Who gets a connection, a watch stream and a turn at being answered, so that no single user (and no
/// number of readers) can lock the operators out of the daemon.
///
/// - Every connection, whatever its stage, counts against a hard cap (`maxConnections` plus room for the
///   ones being identified or turned away); beyond it a connection is closed without an answer.
/// - A uid holds at most `maxConnectionsPerUser` connections (root is exempt), counted from the moment its
///   peer credentials are known, before the slower group lookup.
/// - At most `maxConnections` connections are served; the last `operatorReserve` of them only for root and
///   operators (readers and strangers together get the rest).
/// - A uid follows at most `maxWatchesPerUser` rollouts at once (`rollout watch` streams have no deadline).
/// - Requests of callers who may not change anything are answered at most `maxConcurrentReads` at a time
///   (the rest wait their turn, up to the request deadline): what one answer costs in memory is bounded by
///   the routes, and this bounds how many such answers exist at once. Operators never wait here.
final class Admission: Sendable {
    struct Limits: Sendable {
        var maxConnections: Int
        var operatorReserve: Int
        var maxConnectionsPerUser: Int
        var maxWatchesPerUser: Int
        var maxConcurrentReads: Int
        /// Connections being identified or refused, beyond `maxConnections`.
        var pendingAllowance: Int = 64

        var readerConnections: Int { max(maxConnections - operatorReserve, 0) }
    }

    /// What one connection holds; given back with `release`.
    struct Ticket: Sendable {
        fileprivate(set) var present = false
        fileprivate(set) var uid: UInt32?
        fileprivate(set) var admitted = false
        fileprivate(set) var asOperator = false
    }

    private struct State {
        var present = 0
        var admitted = 0
        var admittedReaders = 0
        var perUser = PerUser()
        var watches = PerUser()
        var reads = 0
        var nextWaiter = 0
        var readWaiters: [(id: Int, continuation: CheckedContinuation<Bool, Never>)] = []
    }

    let limits: Limits
    private let state = Mutex(State())

    init(_ limits: Limits) { self.limits = limits }

    /// A connection arrived; false when even the hard cap is reached (close it without an answer).
    func arrive(_ ticket: inout Ticket) -> Bool {
        state.withLock { state in
            guard state.present < limits.maxConnections + limits.pendingAllowance else { return false }
            state.present += 1
            ticket.present = true
            return true
        }
    }

    /// Counts the connection for its uid (known from the peer credentials); the refusal to send otherwise.
    func claim(uid: UInt32, _ ticket: inout Ticket) -> APIError? {
        state.withLock { state in
            if let held = state.perUser.take(uid, limit: limits.maxConnectionsPerUser) {
                return APIError(
                    .unavailable,
                    "uid \(uid) has \(held) connections to itvd open, the most one user may have "
                        + "(each rollout watch holds one); close some and try again")
            }
            ticket.uid = uid
            return nil
        }
    }

    /// Admits the identified connection; the refusal to send otherwise.
    func admit(asOperator: Bool, _ ticket: inout Ticket) -> APIError? {
        state.withLock { state in
            guard state.admitted < limits.maxConnections else {
                return APIError(
                    .unavailable, "itvd serves \(limits.maxConnections) connections at once; try again")
            }
            if !asOperator, state.admittedReaders >= limits.readerConnections {
                return APIError(
                    .unavailable,
                    "itvd serves at most \(limits.readerConnections) connections of users who may only read; "
                        + "the other \(limits.operatorReserve) are kept for operators; try again")
            }
            state.admitted += 1
            if !asOperator { state.admittedReaders += 1 }
            ticket.admitted = true
            ticket.asOperator = asOperator
            return nil
        }
    }

    /// Gives back everything the ticket holds.
    func release(_ ticket: Ticket) {
        state.withLock { state in
            if ticket.present { state.present -= 1 }
            if let uid = ticket.uid { state.perUser.give(uid) }
            if ticket.admitted {
                state.admitted -= 1
                if !ticket.asOperator { state.admittedReaders -= 1 }
            }
        }
    }

    /// Starts a watch stream of `uid`; the refusal to send otherwise. End it with `endWatch`.
    func beginWatch(uid: UInt32) -> APIError? {
        state.withLock { state in
            if let held = state.watches.take(uid, limit: limits.maxWatchesPerUser) {
                return APIError(
                    .unavailable,
                    "uid \(uid) already follows \(held) rollouts, the most one user may follow at once; "
                        + "end a rollout watch and try again")
            }
            return nil
        }
    }

    func endWatch(uid: UInt32) {
        state.withLock { state in state.watches.give(uid) }
    }

    /// Waits for a turn to answer a reader's request, at most `timeout`; false when none came in time.
    /// Turns are given in the order asked for. Call `endRead()` after a true.
    func beginRead(timeout: Duration) async -> Bool {
        let id: Int? = state.withLock { state in
            if state.reads < limits.maxConcurrentReads, state.readWaiters.isEmpty {
                state.reads += 1
                return nil
            }
            state.nextWaiter += 1
            return state.nextWaiter
        }
        guard let id else { return true }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let admitted: Bool? = state.withLock { state in
                // A turn may have come free between the two locks.
                if state.reads < limits.maxConcurrentReads, state.readWaiters.isEmpty {
                    state.reads += 1
                    return true
                }
                state.readWaiters.append((id, continuation))
                return nil
            }
            if let admitted {
                continuation.resume(returning: admitted)
                return
            }
            Task {
                try? await Task.sleep(for: timeout)
                let expired: CheckedContinuation<Bool, Never>? = self.state.withLock { state in
                    guard let i = state.readWaiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return state.readWaiters.remove(at: i).continuation
                }
                expired?.resume(returning: false)
            }
        }
    }

    /// Ends a reader's turn; the next waiting request gets it.
    func endRead() {
        let next: CheckedContinuation<Bool, Never>? = state.withLock { state in
            if state.readWaiters.isEmpty {
                state.reads -= 1
                return nil
            }
            return state.readWaiters.removeFirst().continuation  // the turn passes on: `reads` stays
        }
        next?.resume(returning: true)
    }

    /// Connections admitted, of them readers', watch streams, and readers' requests waiting for a turn.
    var counts: (admitted: Int, readers: Int, watches: Int, waitingReads: Int) {
        state.withLock { ($0.admitted, $0.admittedReaders, $0.watches.total, $0.readWaiters.count) }
    }
}

/// How many of something (connections, watch streams) each uid holds; root (uid 0) is never refused.
private struct PerUser {
    private var held: [UInt32: Int] = [:]

    /// Takes one for `uid`; nil when taken, else how many it already holds (`limit` or more: refused).
    mutating func take(_ uid: UInt32, limit: Int) -> Int? {
        let count = held[uid, default: 0]
        if uid != 0, count >= limit { return count }
        held[uid] = count + 1
        return nil
    }

    /// How many all uids hold together.
    var total: Int { held.values.reduce(0, +) }

    /// Gives one back.
    mutating func give(_ uid: UInt32) {
        let count = held[uid, default: 1] - 1
        held[uid] = count > 0 ? count : nil
    }
}
