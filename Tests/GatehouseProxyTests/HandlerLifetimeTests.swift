import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

@testable import GatehouseProxy

/// Handlers that keep their channel context are let go with it: the context holds the handler,
/// so a handler still holding its context after the pipeline dropped it is never freed.
@Suite struct HandlerLifetimeTests {
    /// Seen from the test's thread; written once on the channel's loop before it is read.
    final class Watch: @unchecked Sendable {
        weak var connection: UpstreamConnection?
        var channel: (any Channel)?
    }

    @Test func aConnectionWhoseConnectFailedIsReleased() async throws {
        // Port 1 has no listener (as in PassiveHealthTests): the connect is refused, as the pool's
        // would be. A port bound and released here could be taken by a test running alongside.
        let port = 1

        let watch = Watch()
        // Set up as the pool does: the handler added by the channel initializer.
        let connect = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let connection = UpstreamConnection(key: "127.0.0.1:\(port)")
                    watch.connection = connection
                    watch.channel = channel
                    try channel.pipeline.syncOperations.addHandler(connection)
                }
            }
            .connect(host: "127.0.0.1", port: port)
        await #expect(throws: (any Error).self) { try await connect.get() }
        let channel = try #require(watch.channel)
        watch.channel = nil
        try await channel.closeFuture.get()
        // One more turn of its loop, for whatever the close left to do.
        try await channel.eventLoop.submit {}.get()
        #expect(watch.connection == nil, "the connection and its channel context keep each other alive")
    }
}

extension HandlerLifetimeTests {
    /// Adds `handler` to a fresh channel, lets `drop` take it out, and says whether it was freed.
    static func isFreed(after drop: (EmbeddedChannel, any ChannelHandler) throws -> Void, _ make: () -> any ChannelHandler) throws -> Bool {
        weak var watched: AnyObject?
        do {
            let handler = make()
            watched = handler
            let channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandler(handler)
            try drop(channel, handler)
            channel.embeddedEventLoop.run()
        }
        return watched == nil
    }

    @Test func aProxyHandlerTakenOutOfItsPipelineIsFreed() throws {
        // What a WebSocket upgrade does: the handler leaves a channel that stays open.
        let loop = EmbeddedEventLoop()
        let freed = try Self.isFreed(after: { channel, handler in
            try channel.pipeline.syncOperations.removeHandler(handler as! ProxyHandler).wait()
        }) {
            ProxyHandler(
                active: ActiveConfig(), pool: UpstreamConnectionPool(eventLoop: loop), options: ProxyOptions(), health: TargetHealth(),
                logger: Logger(label: "test"))
        }
        #expect(freed)
    }

    @Test func aTunnelHandlerIsFreedWithItsChannel() throws {
        let peer = EmbeddedChannel()
        let freed = try Self.isFreed(after: { channel, _ in try channel.close().wait() }) { TunnelHandler(peer: peer) }
        #expect(freed)
    }
}
