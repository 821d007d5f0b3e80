import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// `metrics: {listen: 127.0.0.1:9464}`: Prometheus scrapes `GET /metrics` over TCP (anything else is 404).
/// Read-only and unauthenticated, like every exporter: it listens where the configuration says (loopback by
/// default). One request per connection; at most 16 connections at once, each given 10 s.
struct MetricsListener: Service {
    let host: String
    let port: Int
    let logger: Logger
    let render: @Sendable () async throws -> String
    /// Reports the bound port (the configuration may say port 0 in tests).
    let onListening: @Sendable (Int) -> Void

    static let maxConnections = 16

    func run() async throws {
        typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
        let server: NIOAsyncChannel<Connection, Never> = try await ServerBootstrap(
            group: MultiThreadedEventLoopGroup.singleton
        )
        .serverChannelOption(.backlog, value: 64)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .bind(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                    withPipeliningAssistance: false, withErrorHandling: true)
                return try Connection(wrappingChannelSynchronously: channel)
            }
        }
        let bound = server.channel.localAddress?.port ?? port
        onListening(bound)
        logger.info("metrics listening on \(host):\(bound)", metadata: ["listen": "\(host):\(bound)"])
        let open = OpenConnections()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        let admitted = open.count.withLock { n in
                            guard n < Self.maxConnections else { return false }
                            n += 1
                            return true
                        }
                        guard admitted else {
                            try? await connection.channel.close()
                            continue
                        }
                        group.addTask {
                            defer { open.count.withLock { $0 -= 1 } }
                            await serve(connection)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        let render = self.render
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await connection.executeThenClose { inbound, outbound in
                    var head: HTTPRequestHead?
                    for try await part in inbound {
                        switch part {
                        case .head(let h): head = h
                        case .body: continue
                        case .end:
                            guard let head else { return }
                            let ok = head.method == .GET && (head.uri == "/metrics" || head.uri.hasPrefix("/metrics?"))
                            var status = HTTPResponseStatus.notFound
                            var body = "not found: metrics are at /metrics\n"
                            var type = "text/plain; charset=utf-8"
                            if ok {
                                do {
                                    body = try await render()
                                    status = .ok
                                    type = "text/plain; version=0.0.4; charset=utf-8"
                                } catch {
                                    status = .serviceUnavailable
                                    body = "cannot read the metrics: \(error)\n"
                                }
                            }
                            var headers = HTTPHeaders()
                            headers.add(name: "Content-Type", value: type)
                            headers.add(name: "Content-Length", value: String(body.utf8.count))
                            headers.add(name: "Connection", value: "close")
                            try await outbound.write(
                                contentsOf: [
                                    .head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)),
                                    .body(.byteBuffer(ByteBuffer(string: body))), .end(nil),
                                ])
                            return
                        }
                    }
                }
            }
            group.addTask { try? await Task.sleep(for: .seconds(10)) }
            await group.next()
            group.cancelAll()
            try? await connection.channel.close()
        }
    }
}

private final class OpenConnections: Sendable {
    let count = Mutex(0)
}
