import NIOCore
import NIOHTTP1
import Synchronization

/// Knows when the answers handed to a connection have left it, so that the connection is closed only after
/// the last byte of its last answer was written to the socket.
///
/// Writing to a `NIOAsyncChannelOutboundWriter` returns once the part is handed to the channel, not once it
/// is written: the channel may still hold megabytes that the socket did not take yet, and closing the
/// channel then throws them away (a client that sent `Connection: close` got a cut-off answer). Every
/// answer therefore goes through a `ResponseWriter`, which counts the answers it hands over; the
/// `ResponseTrackingHandler` in the pipeline counts the answers whose last write completed; `allWritten()`
/// waits until both agree, or until the connection is gone (a client that stops reading is dropped by the
/// request deadline, which ends the wait too).
final class ResponseTracker: Sendable {
    private struct State {
        /// Answers (their `.end` part) handed to the channel.
        var handed = 0
        /// Answers whose `.end` part was written to the socket (or failed: the connection broke).
        var written = 0
        var closed = false
        var waiters: [CheckedContinuation<Void, Never>] = []

        var done: Bool { closed || written >= handed }
    }

    private let state = Mutex(State())

    /// Called before an answer's `.end` part is handed to the channel.
    func handing() { state.withLock { $0.handed += 1 } }

    /// Called by the handler when an `.end` part's write completed.
    func written() { resume { $0.written += 1 } }

    /// Called by the handler when the connection is closed: nothing more will be written.
    func closed() { resume { $0.closed = true } }

    /// Returns once every answer handed so far was written to the socket, or the connection is closed.
    func allWritten() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state in
                if state.done { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    private func resume(_ change: (inout State) -> Void) {
        let ready: [CheckedContinuation<Void, Never>] = state.withLock { state in
            change(&state)
            guard state.done else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in ready { waiter.resume() }
    }
}

/// Reports to a `ResponseTracker` when each answer's last part was written. It sits right below the async
/// channel's handler, so it sees only the answers the server's code writes.
final class ResponseTrackingHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let tracker: ResponseTracker

    init(tracker: ResponseTracker) { self.tracker = tracker }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        let written = promise ?? context.eventLoop.makePromise()
        let tracker = self.tracker
        written.futureResult.whenComplete { _ in tracker.written() }
        context.write(data, promise: written)
    }

    func channelInactive(context: ChannelHandlerContext) {
        tracker.closed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { tracker.closed() }
}

/// The outbound side of a connection, counting the answers it hands over (see `ResponseTracker`).
struct ResponseWriter: Sendable {
    let outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    let tracker: ResponseTracker

    func write(_ part: HTTPServerResponsePart) async throws {
        if case .end = part { tracker.handing() }
        try await outbound.write(part)
    }

    func write(contentsOf parts: [HTTPServerResponsePart]) async throws {
        for part in parts { if case .end = part { tracker.handing() } }
        try await outbound.write(contentsOf: parts)
    }

    /// Waits until everything handed over was written to the socket (or the connection is gone): call it
    /// before the connection is closed.
    func allWritten() async { await tracker.allWritten() }
}
