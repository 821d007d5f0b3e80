import ITVProtocol
import NIOCore
import NIOHTTP1

/// The body of `GET /v1/rollouts/{id}/events`: NDJSON, one event per line.
enum WatchStream {
    /// Writes events until one ends the watch or the stream ends. A client that goes away between two
    /// events ends the watch at once (the engine's stream is cancelled), not at the next event.
    static func write(
        _ events: AsyncStream<RolloutEvent>, to outbound: ResponseWriter,
        channel: any Channel
    ) async throws {
        let head = ResponseParts.head(
            status: 200, contentType: ITVProtocolVersion.ndjsonContentType, contentLength: nil, keepAlive: false)
        try await outbound.write(.head(head))
        let (closed, closing) = AsyncStream<Void>.makeStream()
        channel.closeFuture.whenComplete { _ in closing.finish() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events {
                    var line = try ITVJSON.encode(event)
                    line.append(UInt8(ascii: "\n"))
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: line))))
                    if event.endsWatch { break }
                }
                try await outbound.write(.end(nil))
            }
            // Ends when the connection closes, or when cancelled because the events ended first.
            group.addTask { for await _ in closed {} }
            defer { group.cancelAll() }
            try await group.next()
        }
    }
}
