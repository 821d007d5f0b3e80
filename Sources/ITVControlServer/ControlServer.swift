import CITVShim
import Foundation
import ITVEngine
import ITVProtocol
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

typealias HTTPConnection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

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
    private let resolver: IdentityResolver
    private let logger: Logger
    private let listening = Mutex(Listening.waiting([]))
    private let activeConnections = Mutex(0)
    private let activated = Mutex(false)
    private let connections = ConnectionRegistry()

    public init(config: ControlServerConfig, service: any ControlService, logger: Logger? = nil) {
        self.config = config
        self.dispatcher = Dispatcher(
            service: service, operatorGroups: config.operatorGroups, readerGroups: config.readerGroups)
        self.resolver = IdentityResolver(operatorGroups: config.operatorGroups, readerGroups: config.readerGroups)
        self.logger = logger ?? Logger(label: "itvd.control")
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
        let fd: Int32
        var madeFile: (path: String, inode: UInt64)?
        do {
            if config.allowSocketActivation,
                let passed = try ListeningSocket.fromActivation(
                    environment: config.environment, firstFD: config.activationFirstFD)
            {
                fd = passed
                activated.withLock { $0 = true }
                logger.info("control socket passed by systemd (socket activation)")
            } else {
                let group = IdentityResolver.firstExistingGroup(config.readerGroups)
                if group == nil {
                    logger.warning(
                        "no reader group exists; the control socket keeps the daemon's group",
                        metadata: ["readers": "\(config.readerGroups.joined(separator: ","))"])
                }
                let bound = try ListeningSocket.bind(path: config.socketPath, group: group, backlog: 256)
                fd = bound.fd
                madeFile = (config.socketPath, bound.inode)
                if let group, !bound.grouped {
                    logger.warning(
                        "cannot give the control socket to the reader group; it keeps the daemon's group",
                        metadata: ["gid": "\(group)"])
                }
            }
        } catch {
            setListening(.failure(error))
            throw error
        }
        defer { if let madeFile { ListeningSocket.remove(path: madeFile.path, inode: madeFile.inode) } }

        let deadline = TimeAmount.nanoseconds(
            Int64(config.requestDeadline.components.seconds) * 1_000_000_000
                + config.requestDeadline.components.attoseconds / 1_000_000_000)
        let server: NIOAsyncChannel<HTTPConnection, Never>
        do {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .bind(fd) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                            withPipeliningAssistance: false, withErrorHandling: false)
                        try channel.pipeline.syncOperations.addHandler(RequestDeadlineHandler(deadline: deadline))
                        return try HTTPConnection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            close(fd)
            setListening(.failure(error))
            throw error
        }
        setListening(.success(()))
        logger.info("control socket listening", metadata: ["socket": "\(config.socketPath)"])

        // Graceful shutdown and cancellation both close the listening channel, which ends the accept loop
        // once every connection already accepted has been taken; the task group then waits for the
        // connections being served (idle ones are closed at once). The loop runs in a task of its own,
        // awaited right here, so that cancellation never interrupts it: a connection accepted but never
        // taken from the stream would trap in NIO ("NIOAsyncWriter deinited without finish()").
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

    private func acceptLoop(_ server: NIOAsyncChannel<HTTPConnection, Never>) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    let admitted = activeConnections.withLock { count in
                        guard count < config.maxConnections else { return false }
                        count += 1
                        return true
                    }
                    group.addTask {
                        if admitted {
                            await self.serve(connection)
                            self.activeConnections.withLock { $0 -= 1 }
                        } else {
                            await self.refuse(connection)
                        }
                    }
                }
            }
        }
    }

    private func refuse(_ connection: HTTPConnection) async {
        let error = APIError(.unavailable, "itvd serves \(config.maxConnections) connections at once; try again")
        try? await connection.executeThenClose { _, outbound in
            try await outbound.write(contentsOf: ResponseParts.error(error, keepAlive: false))
        }
    }

    /// Identifies the peer, then answers requests until the client closes, asks to close, or misbehaves.
    private func serve(_ connection: HTTPConnection) async {
        guard let id = connections.add(connection.channel) else {
            try? await connection.executeThenClose { _, _ in }
            return
        }
        defer { connections.remove(id) }
        do {
            try await connection.executeThenClose { inbound, outbound in
                let peer = try await self.identify(connection.channel)
                var parts = inbound.makeAsyncIterator()
                do {
                    while try await self.answerOne(&parts, outbound, peer: peer, connection: id, connection.channel) {}
                } catch let error as HTTPParserError {
                    let apiError = APIError(.invalidRequest, "malformed HTTP request: \(error)")
                    try await outbound.write(contentsOf: ResponseParts.error(apiError, keepAlive: false))
                }
            }
        } catch {
            logger.debug("control connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// Reads one request and answers it; returns whether the connection stays open for another.
    private func answerOne(
        _ parts: inout NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator,
        _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, peer: PeerIdentity, connection id: Int,
        _ channel: any Channel
    ) async throws -> Bool {
        guard let first = try await parts.next() else { return false }
        connections.set(id, idle: false)
        guard case .head(let head) = first else {
            let error = APIError(.invalidRequest, "a request must start with its head")
            try await outbound.write(contentsOf: ResponseParts.error(error, keepAlive: false))
            return false
        }
        if head.headers[canonicalForm: "Expect"].contains(where: { $0.lowercased() == "100-continue" }) {
            // curl asks before sending a larger body; answer at once instead of letting it wait a second.
            try await outbound.write(.head(HTTPResponseHead(version: head.version, status: .continue)))
        }
        let limit = config.maxBodyBytes
        let tooLarge = APIError(.payloadTooLarge, "request bodies are limited to \(limit) bytes")
        if let length = head.headers.first(name: "Content-Length").flatMap(Int.init), length > limit {
            try await outbound.write(contentsOf: ResponseParts.error(tooLarge, keepAlive: false))
            return false
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
        let request = ControlRequest(
            method: head.method.rawValue, target: head.uri,
            protocolVersion: head.headers.first(name: ITVProtocolVersion.headerName),
            body: Data(body.readableBytesView))
        let reply = await dispatcher.handle(request, from: peer)
        // Answered in full even while shutting down; the connection closes after it.
        let keepAlive = head.isKeepAlive && !connections.isShuttingDown
        switch reply {
        case .json(let status, let data):
            try await outbound.write(
                contentsOf: ResponseParts.json(status: status, body: Array(data), keepAlive: keepAlive))
            return keepAlive && connections.set(id, idle: true)
        case .text(let contentType, let text):
            try await outbound.write(
                contentsOf: ResponseParts.text(contentType: contentType, body: Array(text.utf8), keepAlive: keepAlive))
            return keepAlive && connections.set(id, idle: true)
        case .events(let events):
            // A watch may follow a rollout for hours: shutdown ends it like an idle connection.
            guard connections.set(id, idle: true) else { return false }
            try await WatchStream.write(events, to: outbound, channel: channel)
            return false
        }
    }

    private func identify(_ channel: any Channel) async throws -> PeerIdentity {
        guard let provider = channel as? any SocketOptionProvider else {
            throw APIError(.internal, "the control connection has no socket options")
        }
        let credentials: itv_ucred = try await provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(itv_so_peercred())
        ).get()
        let resolver = self.resolver
        return try await NIOThreadPool.singleton.runIfActive {
            resolver.identify(uid: credentials.uid, gid: credentials.gid)
        }
    }
}
