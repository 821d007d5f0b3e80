import NIOCore
import Synchronization

/// The open connections, so that a graceful shutdown can close the idle ones at once and the busy ones
/// right after their answer, instead of waiting for clients to go away; and so that a new authorization
/// can close those of users it no longer lets read.
final class ConnectionRegistry: Sendable {
    private struct State {
        var next = 0
        var channels: [Int: (channel: any Channel, peer: PeerIdentity, idle: Bool)] = [:]
        var shuttingDown = false
    }

    private let state = Mutex(State())

    var isShuttingDown: Bool { state.withLock { $0.shuttingDown } }

    /// Registers a connection (idle: waiting for a request); nil when shutting down.
    func add(_ channel: any Channel, peer: PeerIdentity) -> Int? {
        state.withLock { state in
            guard !state.shuttingDown else { return nil }
            state.next += 1
            state.channels[state.next] = (channel, peer, true)
            return state.next
        }
    }

    /// Closes the connections of peers for which `condition` holds; returns how many.
    func close(where condition: (PeerIdentity) -> Bool) -> Int {
        let doomed: [any Channel] = state.withLock { state in
            state.channels.values.filter { condition($0.peer) }.map(\.channel)
        }
        for channel in doomed { channel.close(promise: nil) }
        return doomed.count
    }

    func remove(_ id: Int) { _ = state.withLock { $0.channels.removeValue(forKey: id) } }

    /// Marks a connection idle (waiting for a request, or following a watch) or busy (answering). Returns
    /// false when the server shuts down and an idle connection should end now.
    @discardableResult
    func set(_ id: Int, idle: Bool) -> Bool {
        state.withLock { state in
            state.channels[id]?.idle = idle
            return !state.shuttingDown
        }
    }

    /// Stops taking connections and closes the idle ones.
    func shutDown() {
        let idle: [any Channel] = state.withLock { state in
            state.shuttingDown = true
            return state.channels.values.filter(\.idle).map(\.channel)
        }
        for channel in idle { channel.close(promise: nil) }
    }
}
