import ITVProtocol
import NIOCore
import NIOHTTP1

/// Drops a client that does not send a whole request in time (idle or slow, "slowloris"): armed when the
/// connection opens and after each response, disarmed when a request has fully arrived.
final class RequestDeadlineHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let deadline: TimeAmount
    private var timer: Scheduled<Void>?

    init(deadline: TimeAmount) { self.deadline = deadline }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) {
            timer?.cancel()
            timer = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { arm(context) }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext) {
        timer?.cancel()
        let seconds = Double(deadline.nanoseconds) / 1e9
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: deadline) {
            let context = bound.value
            let error = APIError(.timeout, "no complete request within \(seconds) seconds; closing the connection")
            for part in ResponseParts.error(error, keepAlive: false) {
                context.write(NIOAny(part), promise: nil)
            }
            context.flush()
            context.close(promise: nil)
        }
    }
}

/// Building response parts.
enum ResponseParts {
    static func head(status: Int, contentType: String, contentLength: Int?, keepAlive: Bool) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: ITVProtocolVersion.headerName, value: ITVProtocolVersion.current)
        headers.add(name: "Content-Type", value: contentType)
        if let contentLength { headers.add(name: "Content-Length", value: String(contentLength)) }
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        return HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
    }

    /// A text document sent as is (the metrics exposition ends with its own newline).
    static func text(contentType: String, body: [UInt8], keepAlive: Bool) -> [HTTPServerResponsePart] {
        let head = head(status: 200, contentType: contentType, contentLength: body.count, keepAlive: keepAlive)
        return [.head(head), .body(.byteBuffer(ByteBuffer(bytes: body))), .end(nil)]
    }

    /// A whole answer: `body` is a newline-terminated JSON document (`Reply.document`).
    static func json(status: Int, body: ByteBuffer, keepAlive: Bool) -> [HTTPServerResponsePart] {
        let head = head(
            status: status, contentType: ITVProtocolVersion.jsonContentType, contentLength: body.readableBytes,
            keepAlive: keepAlive)
        return [.head(head), .body(.byteBuffer(body)), .end(nil)]
    }

    static func error(_ error: APIError, keepAlive: Bool) -> [HTTPServerResponsePart] {
        guard case .json(let status, let body) = Reply.error(error) else { return [] }
        return json(status: status, body: body, keepAlive: keepAlive)
    }
}
