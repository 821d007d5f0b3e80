import CITVShim
import Foundation
import ITVProtocol
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

typealias HTTPConnection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

/// An accepted connection and what knows when its answers were written.
struct AcceptedConnection: Sendable {
    let connection: HTTPConnection
    let tracker: ResponseTracker

    var channel: any Channel { connection.channel }
}

/// itvd's control socket: HTTP/1.1 with JSON over a Unix socket, authorized by peer credentials.
///
/// Run it in the daemon's `ServiceGroup`; `waitUntilListening()` returns once clients can connect (the
/// moment to send READY=1). Graceful shutdown stops accepting, lets running requests finish, closes idle
/// connections and watch streams, and removes the socket file the server made (not one systemd passed).
///
/// ```swift
/// let control = ControlServer(config: ControlServerConfig(daemonConfig), service: engine, logger: logger)
/// let group = ServiceGroup(services: [engine, control], gracefulShutdownSignals: [.sigterm], logger: logger)
/// async let running: Void = group.run()
/// try await control.waitUntilListening()   // throws `ControlServerError` (socket_in_use, ...) instead
/// notifier.ready()
/// try await running
/// ```
public final class ControlServer: Service, Sendable {
    private enum Listening {
        case waiting([CheckedContinuation<Void, any Error>])
        case listening
        case failed(any Error)
    }

    private let config: ControlServerConfig
    private let dispatcher: Dispatcher
    private let authorization: Authorization
    private let admission: Admission
    private let logger: Logger
    private let listening = Mutex(Listening.waiting([]))
    private let activated = Mutex(false)
    private let connections = ConnectionRegistry()

    public init(config: ControlServerConfig, service: any ControlService, logger: Logger? = nil) {
        self.config = config
        authorization = Authorization(
            AuthorizationPolicy(
                operatorGroups: config.operatorGroups, readerGroups: config.readerGroups, tenants: config.tenantGrants))
        dispatcher = Dispatcher(service: service, authorization: authorization)
        admission = Admission(
            Admission.Limits(
                maxConnections: config.maxConnections, operatorReserve: config.operatorReserve,
                maxConnectionsPerUser: config.maxConnectionsPerUser, maxWatchesPerUser: config.maxWatchesPerUser,
                maxConcurrentReads: config.maxConcurrentReads))
        self.logger = logger ?? Logger(label: "itvd.control")
    }

    /// The authorization in force.
    public var authorizationPolicy: AuthorizationPolicy { authorization.current }

    /// Replaces who may read and who may change (a reload of `operators:`/`readers:`), at once and as a
    /// whole: every request whose head arrives afterwards is decided by the new policy, on new and open
    /// connections alike, and open connections (watch streams, idle keep-alive) of users who may no longer
    /// read are closed. The socket file keeps its group (that of systemd's `SocketGroup=`, or the first
    /// reader group when itvd made the socket) until a restart.
    public func updateAuthorization(_ policy: AuthorizationPolicy) {
        let old = authorization.replace(with: policy)
        guard old != policy else { return }
        let closed = connections.close { !policy.mayRead($0) }
        let operators = policy.operatorGroups.joined(separator: ",")
        let readers = policy.readerGroups.joined(separator: ",")
        let note = closed > 0 ? "; closed \(closed) connection(s) of users who may no longer read" : ""
        let joined = policy.tenants.map(\.tenant).joined(separator: ",")
        let tenants = joined.isEmpty ? "none" : joined
        logger.notice(
            "authorization replaced: operators \(operators), readers \(readers), tenants with own groups \(tenants)\(note)"
        )
    }

    /// Returns once the socket listens; throws what made `run()` fail before it could.
    public func waitUntilListening() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let resume: Result<Void, any Error>? = listening.withLock { state in
                switch state {
                case .waiting(var list):
                    list.append(continuation)
                    state = .waiting(list)
                    return nil
                case .listening: return .success(())
                case .failed(let error): return .failure(error)
                }
            }
            if let resume { continuation.resume(with: resume) }
        }
    }

    /// True when the listening socket came from systemd socket activation.
    public var usesSocketActivation: Bool { activated.withLock { $0 } }

    private func setListening(_ result: Result<Void, any Error>) {
        let waiting: [CheckedContinuation<Void, any Error>] = listening.withLock { state in
            guard case .waiting(let list) = state else { return [] }
            switch result {
            case .success: state = .listening
            case .failure(let error): state = .failed(error)
            }
            return list
        }
        for continuation in waiting { continuation.resume(with: result) }
    }

    public func run() async throws {
        let socket: (fd: Int32, madeFile: (path: String, inode: UInt64)?)
        do {
            socket = try openListeningSocket()
        } catch {
            setListening(.failure(error))
            throw error
        }
        defer {
            if let made = socket.madeFile { ListeningSocket.remove(path: made.path, inode: made.inode) }
        }
        let server: NIOAsyncChannel<AcceptedConnection, Never>
        do {
            server = try await listen(on: socket.fd)
        } catch {
            close(socket.fd)
            setListening(.failure(error))
            throw error
        }
        setListening(.success(()))
        logger.info("control socket listening", metadata: ["socket": "\(config.socketPath)"])
        try await serveUntilShutdown(server)
    }

    /// The socket systemd passed (socket activation), else one bound at the configured path, given to the first
    /// reader group that exists. `madeFile`: the socket file this server made (removed when it stops).
    private func openListeningSocket() throws -> (fd: Int32, madeFile: (path: String, inode: UInt64)?) {
        if config.allowSocketActivation,
            let passed = try ListeningSocket.fromActivation(
                environment: config.environment, firstFD: config.activationFirstFD)
        {
            activated.withLock { $0 = true }
            logger.info("control socket passed by systemd (socket activation)")
            return (passed, nil)
        }
        let group = IdentityResolver.firstExistingGroup(config.readerGroups)
        if group == nil {
            logger.warning(
                "no reader group exists; the control socket keeps the daemon's group",
                metadata: ["readers": "\(config.readerGroups.joined(separator: ","))"])
        }
        let bound = try ListeningSocket.bind(path: config.socketPath, group: group, backlog: 256)
        if let group, !bound.grouped {
            logger.warning(
                "cannot give the control socket to the reader group; it keeps the daemon's group",
                metadata: ["gid": "\(group)"])
        }
        return (bound.fd, (config.socketPath, bound.inode))
    }

    /// The NIO server on the listening socket: HTTP/1.1 per connection, with the request deadline and the
    /// response tracker in each pipeline.
    private func listen(on fd: Int32) async throws -> NIOAsyncChannel<AcceptedConnection, Never> {
        let deadline = TimeAmount.nanoseconds(
            Int64(config.requestDeadline.components.seconds) * 1_000_000_000
                + config.requestDeadline.components.attoseconds / 1_000_000_000)
        return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            // A client may shut down its sending side once its request is out; it still gets the answer.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(fd) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tracker = ResponseTracker()
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withPipeliningAssistance: false, withErrorHandling: false)
                    try channel.pipeline.syncOperations.addHandler(RequestDeadlineHandler(deadline: deadline))
                    try channel.pipeline.syncOperations.addHandler(ResponseTrackingHandler(tracker: tracker))
                    return AcceptedConnection(
                        connection: try HTTPConnection(wrappingChannelSynchronously: channel), tracker: tracker)
                }
            }
    }

    /// Graceful shutdown and cancellation both close the listening channel, which ends the accept loop
    /// once every connection already accepted has been taken; the task group then waits for the
    /// connections being served (idle ones are closed at once). The loop runs in a task of its own,
    /// awaited right here, so that cancellation never interrupts it: a connection accepted but never
    /// taken from the stream would trap in NIO ("NIOAsyncWriter deinited without finish()").
    private func serveUntilShutdown(_ server: NIOAsyncChannel<AcceptedConnection, Never>) async throws {
        let loop = Task { try await self.acceptLoop(server) }
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await loop.value
            } onCancel: {
                server.channel.close(promise: nil)
                self.connections.shutDown()
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
            self.connections.shutDown()
        }
    }

    private func acceptLoop(_ server: NIOAsyncChannel<AcceptedConnection, Never>) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await self.handle(connection) }
                }
            }
        }
    }

    /// Admits a connection (see `Admission`) and serves it, or tells the client why not.
    private func handle(_ accepted: AcceptedConnection) async {
        var ticket = Admission.Ticket()
        defer { admission.release(ticket) }
        guard admission.arrive(&ticket) else {
            // Far beyond every limit: not even an answer (each would cost a write and a wait).
            try? await accepted.connection.executeThenClose { _, _ in }
            return
        }
        let credentials: itv_ucred
        do { credentials = try await peerCredentials(accepted.channel) } catch {
            try? await accepted.connection.executeThenClose { _, _ in }
            return
        }
        if let refusal = admission.claim(uid: credentials.uid, &ticket) {
            return await refuse(accepted, refusal)
        }
        let peer: PeerIdentity
        do {
            peer = try await NIOThreadPool.singleton.runIfActive {
                IdentityResolver.identify(uid: credentials.uid, gid: credentials.gid)
            }
        } catch {
            try? await accepted.connection.executeThenClose { _, _ in }
            return
        }
        if let refusal = admission.admit(asOperator: authorization.current.mayChangeSome(peer), &ticket) {
            return await refuse(accepted, refusal)
        }
        await serve(accepted, peer: peer)
    }

    private func refuse(_ accepted: AcceptedConnection, _ error: APIError) async {
        try? await accepted.connection.executeThenClose { _, outbound in
            let responses = ResponseWriter(outbound: outbound, tracker: accepted.tracker)
            try await responses.write(contentsOf: ResponseParts.error(error, keepAlive: false))
            await responses.allWritten()
        }
    }

    /// Answers requests until the client closes, asks to close, or misbehaves.
    private func serve(_ accepted: AcceptedConnection, peer: PeerIdentity) async {
        let connection = accepted.connection
        guard let id = connections.add(connection.channel, peer: peer) else {
            try? await connection.executeThenClose { _, _ in }
            return
        }
        defer { connections.remove(id) }
        do {
            try await connection.executeThenClose { inbound, outbound in
                let responses = ResponseWriter(outbound: outbound, tracker: accepted.tracker)
                var parts = inbound.makeAsyncIterator()
                do {
                    while try await self.answerOne(&parts, responses, peer: peer, connection: id, connection.channel) {}
                } catch let error as HTTPParserError {
                    let apiError = APIError(.invalidRequest, "malformed HTTP request: \(error)")
                    try await responses.write(contentsOf: ResponseParts.error(apiError, keepAlive: false))
                }
                // The channel is closed when this returns: not before the last answer left it.
                await responses.allWritten()
            }
        } catch {
            logger.debug("control connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// Reads one request and answers it; returns whether the connection stays open for another.
    private func answerOne(
        _ parts: inout NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator,
        _ outbound: ResponseWriter, peer: PeerIdentity, connection id: Int,
        _ channel: any Channel
    ) async throws -> Bool {
        guard let first = try await parts.next() else { return false }
        connections.set(id, idle: false)
        guard case .head(let head) = first else {
            let error = APIError(.invalidRequest, "a request must start with its head")
            try await outbound.write(contentsOf: ResponseParts.error(error, keepAlive: false))
            return false
        }
        // Authorized on the head: a refused request's body is never read (the connection closes instead).
        let authorized: AuthorizedRequest
        switch await dispatcher.authorize(
            method: head.method.rawValue, target: head.uri,
            protocolVersion: head.headers.first(name: ITVProtocolVersion.headerName), peer: peer)
        {
        case .success(let request): authorized = request
        case .failure(let error):
            try await outbound.write(contentsOf: ResponseParts.error(error, keepAlive: false))
            return false
        }
        let reader = !authorized.caller.mayChange && !authorized.caller.operatesSomeTenants
        let limit = reader ? config.maxReaderBodyBytes : config.maxBodyBytes
        let tooLarge = APIError(.payloadTooLarge, "request bodies are limited to \(limit) bytes")
        if let length = head.headers.first(name: "Content-Length").flatMap(Int.init), length > limit {
            try await outbound.write(contentsOf: ResponseParts.error(tooLarge, keepAlive: false))
            return false
        }
        if head.headers[canonicalForm: "Expect"].contains(where: { $0.lowercased() == "100-continue" }) {
            // curl asks before sending a larger body; answer at once instead of letting it wait a second.
            try await outbound.write(.head(HTTPResponseHead(version: head.version, status: .continue)))
        }
        var body = ByteBuffer()
        var complete = false
        reading: while let part = try await parts.next() {
            switch part {
            case .head:
                let error = APIError(.invalidRequest, "a second request head arrived before the body ended")
                try await outbound.write(contentsOf: ResponseParts.error(error, keepAlive: false))
                return false
            case .body(var chunk):
                guard body.readableBytes + chunk.readableBytes <= limit else {
                    try await outbound.write(contentsOf: ResponseParts.error(tooLarge, keepAlive: false))
                    return false
                }
                body.writeBuffer(&chunk)
            case .end:
                complete = true
                break reading
            }
        }
        // A request cut off (the client went away, or its deadline passed) is never acted on.
        guard complete else { return false }
        let keepAlive = head.isKeepAlive && !connections.isShuttingDown
        // A reader's request waits for its turn (operators never wait), and keeps it until its whole answer
        // left the connection: the answers of readers that exist at once are bounded.
        if reader {
            guard await admission.beginRead(timeout: config.requestDeadline) else {
                let busy = APIError(.unavailable, "itvd is busy answering other readers; try again")
                try await outbound.write(contentsOf: ResponseParts.error(busy, keepAlive: false))
                return false
            }
        }
        var readTurn = reader
        defer { if readTurn { admission.endRead() } }
        var watching = false
        defer { if watching { admission.endWatch(uid: peer.uid) } }
        if authorized.match.route == .rolloutEvents {
            if let refusal = admission.beginWatch(uid: peer.uid) {
                try await outbound.write(contentsOf: ResponseParts.error(refusal, keepAlive: keepAlive))
                if reader { await outbound.allWritten() }
                return keepAlive && connections.set(id, idle: true)
            }
            watching = true
        }
        let reply = await dispatcher.answer(authorized, body: Data(body.readableBytesView))
        body = ByteBuffer()
        // Answered in full even while shutting down; the connection closes after it.
        switch reply {
        case .json(let status, let data):
            try await outbound.write(contentsOf: ResponseParts.json(status: status, body: data, keepAlive: keepAlive))
            if reader { await outbound.allWritten() }
            return keepAlive && connections.set(id, idle: true)
        case .text(let contentType, let text):
            try await outbound.write(
                contentsOf: ResponseParts.text(contentType: contentType, body: Array(text.utf8), keepAlive: keepAlive))
            if reader { await outbound.allWritten() }
            return keepAlive && connections.set(id, idle: true)
        case .events(let events):
            // A watch is not a turn: it may follow a rollout for hours, and waits for events, not for work.
            if readTurn {
                admission.endRead()
                readTurn = false
            }
            // Shutdown ends a watch like an idle connection.
            guard connections.set(id, idle: true) else { return false }
            try await WatchStream.write(events, to: outbound, channel: channel)
            return false
        }
    }

    private func peerCredentials(_ channel: any Channel) async throws -> itv_ucred {
        guard let provider = channel as? any SocketOptionProvider else {
            throw APIError(.internal, "the control connection has no socket options")
        }
        return try await provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(itv_so_peercred())
        ).get()
    }
}
