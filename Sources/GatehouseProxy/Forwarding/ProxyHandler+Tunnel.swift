import NIOCore
import NIOHTTP1

extension ProxyHandler {
    /// The upstream agreed to a WebSocket: the 101 goes to the client, then both connections
    /// lose their HTTP handlers and relay bytes to each other.
    func switchToTunnel(_ exchange: Exchange, context: ChannelHandlerContext) {
        cancelTimer()
        _ = client.ended()
        // The request ends with its 101; the tunnel's bytes are not a response's.
        if measures { measure.finish(meters, accessLog, tracer) }
        guard let connection = exchange.connection, let upstream = connection.channel else {
            return context.close(promise: nil)
        }
        context.flush()
        pool.detach(connection)
        let (clientEnd, upstreamEnd) = TunnelHandler.pair(context.channel, upstream)
        do {
            let client = context.channel.pipeline.syncOperations
            try client.addHandler(clientEnd)
            client.removeIfPresent(ClientTimeouts.self)
            client.removeHandler(context: context, promise: nil)
            let server = upstream.pipeline.syncOperations
            // The bytes read behind the 101 went to the client with it.
            try server.addHandler(upstreamEnd)
            server.removeIfPresent(UpstreamConnection.self)
            // What the client sent behind its request is the tunnel's first bytes.
            if let early = unparsed {
                unparsed = nil
                upstream.writeAndFlush(early, promise: nil)
            }
        } catch {
            context.close(promise: nil)
            upstream.close(promise: nil)
        }
    }
}
