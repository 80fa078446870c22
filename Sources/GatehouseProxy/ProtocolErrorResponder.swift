import NIOCore
import NIOHTTP1

/// Answers HTTP the parser refused (malformed, ambiguous or oversized requests) with a JSON error
/// and lets the decoder close the connection: 431 for oversized headers, 400 for the rest. A
/// response already under way is not interrupted; the connection just closes.
final class ProtocolErrorResponder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var responding = false

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            return context.fireErrorCaught(error)
        }
        if !responding {
            let (status, code, message): (HTTPResponseStatus, String, String) =
                parserError == .headerOverflow
                ? (.requestHeaderFieldsTooLarge, "headers_too_large", "the request headers are too large")
                : (.badRequest, "bad_request", "malformed HTTP request: \(parserError)")
            let body = ProxyError.body(code: code, message: message, allocator: context.channel.allocator)
            var head = HTTPResponseHead(version: .http1_1, status: status)
            head.headers.add(name: "content-type", value: "application/json")
            head.headers.add(name: "content-length", value: String(body.readableBytes))
            head.headers.add(name: "connection", value: "close")
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where !(100..<200).contains(head.status.code) || head.status.code == 101: responding = true
        case .end: responding = false
        default: break
        }
        context.write(data, promise: promise)
    }
}
