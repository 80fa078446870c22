import NIOCore

/// Tracks a server channel's open connections, for draining them. It sits in the server
/// channel's pipeline, before the bootstrap's acceptor, so it sees every accepted connection;
/// its state belongs to the server channel's event loop.
///
/// NIO's `ServerQuiescingHelper` counts a drain as finished the moment no connection is open,
/// and then closes any connection accepted just before the listener closed: a client would see
/// a reset. Here the set of connections to wait for is taken only once the listeners are closed,
/// when no more can arrive; and since each listener's connections live on its own event loop,
/// none is half set up across threads when its listener closes (NIO closes such a connection).
final class ConnectionTracker: ChannelInboundHandler, Sendable {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let connections: NIOLoopBoundBox<[ObjectIdentifier: any Channel]>

    init(serverEventLoop: any EventLoop) {
        connections = NIOLoopBoundBox.makeBoxSendingValue([:], eventLoop: serverEventLoop)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        let id = ObjectIdentifier(child)
        connections.value[id] = child
        let connections = self.connections
        child.closeFuture.whenComplete { _ in
            connections.eventLoop.execute { connections.value[id] = nil }
        }
        context.fireChannelRead(data)
    }

    /// Closes every server socket first (with `net.ipv4.tcp_migrate_req=1` the kernel hands
    /// their queued connections to the other sockets on the port), then asks each open connection
    /// to finish its request and close; completes once all have closed.
    static func drain(_ servers: [any Channel], _ trackers: [ConnectionTracker], on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let closed = servers.map { server in
            server.close().flatMapErrorWithEventLoop { _, loop in loop.makeSucceededVoidFuture() }
        }
        return EventLoopFuture.andAllComplete(closed, on: eventLoop).flatMap {
            let connections = trackers.map { tracker in
                tracker.connections.eventLoop.submit { Array(tracker.connections.value.values) }
            }
            return EventLoopFuture.whenAllSucceed(connections, on: eventLoop)
        }.flatMap { lists in
            let open = lists.flatMap { $0 }
            for connection in open {
                connection.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            }
            return EventLoopFuture.andAllComplete(open.map(\.closeFuture), on: eventLoop)
        }
    }
}
