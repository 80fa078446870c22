import NIOCore

/// Relays raw bytes to a peer channel on the same event loop, after an HTTP upgrade (WebSocket)
/// turned both connections into one tunnel. Reading pauses while the peer cannot take more;
/// either side closing closes the other.
final class TunnelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let peer: any Channel
    private var readPending = false
    weak var partner: TunnelHandler?
    private var context: ChannelHandlerContext?

    init(peer: any Channel) {
        self.peer = peer
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// The context holds this handler and this handler the context (and the peer channel):
    /// let go when the pipeline drops the handler.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Flushed at once: bytes a decoder hands over as it leaves the pipeline come with no
        // read-complete event after them.
        peer.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if peer.isWritable {
            context.read()
        } else {
            readPending = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.resume() }
        context.fireChannelWritabilityChanged()
    }

    private func resume() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// The two ends of a tunnel between channels that share an event loop.
    static func pair(_ a: any Channel, _ b: any Channel) -> (TunnelHandler, TunnelHandler) {
        let first = TunnelHandler(peer: b)
        let second = TunnelHandler(peer: a)
        first.partner = second
        second.partner = first
        return (first, second)
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Removes the handler of type `type`, if the pipeline has one.
    func removeIfPresent<Handler: RemovableChannelHandler>(_ type: Handler.Type) {
        guard let context = try? context(handlerType: type) else { return }
        removeHandler(context: context, promise: nil)
    }
}
