import NIOCore
import NIOHTTP1

/// What an upstream connection reports to the request currently using it. Called on the event
/// loop that owns both the client and the upstream channel.
protocol UpstreamConnectionDelegate: AnyObject {
    var clientIsWritable: Bool { get }
    func upstreamResponsePart(_ part: HTTPClientResponsePart)
    func upstreamReadComplete()
    func upstreamFailed(_ error: any Error)
    func upstreamWritabilityChanged(isWritable: Bool)
}

/// One keep-alive HTTP/1.1 connection to a target, owned by its event loop's
/// `UpstreamConnectionPool`. It is the last handler of its channel: it hands responses to the
/// request using it and stops reading while that request's client cannot take more bytes.
final class UpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    let key: String
    weak var delegate: (any UpstreamConnectionDelegate)?
    /// Set by the pool; told when the channel closes so an idle connection leaves the pool.
    var onClose: ((UpstreamConnection) -> Void)?
    /// While idle in the pool: when it is closed unless borrowed again.
    var idleUntil: NIODeadline?
    private(set) var isOpen = true
    private var context: ChannelHandlerContext?
    private var readPending = false

    init(key: String) {
        self.key = key
    }

    var isWritable: Bool { context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func write(_ part: HTTPClientRequestPart, flush: Bool) {
        guard let context else { return }
        if flush {
            context.writeAndFlush(wrapOutboundOut(part), promise: nil)
        } else {
            context.write(wrapOutboundOut(part), promise: nil)
        }
    }

    func flush() {
        context?.flush()
    }

    var channel: (any Channel)? { context?.channel }

    func close() {
        guard isOpen else { return }
        isOpen = false
        delegate = nil
        context?.close(promise: nil)
    }

    /// Reads again after the client drained what it was sent.
    func resumeReading() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    func read(context: ChannelHandlerContext) {
        if let delegate, !delegate.clientIsWritable {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let delegate else {
            // Bytes on an idle connection: the server is confused or closing. Do not reuse it.
            return close()
        }
        delegate.upstreamResponsePart(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) {
        isOpen = false
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamFailed(ChannelError.eof)
        onClose?(self)
        onClose = nil
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamFailed(error)
        close()
    }
}
