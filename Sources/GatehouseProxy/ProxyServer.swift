import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The data plane's HTTP listener. Binds with `SO_REUSEPORT` so a new process can listen beside
/// an old one. Each event loop has its own upstream connection pool.
public enum ProxyServer {
    /// Binds the listener; requests are served from then on.
    public static func bind(
        _ address: ListenAddress, group: MultiThreadedEventLoopGroup, active: ActiveConfig, options: ProxyOptions = ProxyOptions(),
        logger: Logger
    ) async throws -> Listener {
        var pools: [ObjectIdentifier: NIOLoopBound<UpstreamConnectionPool>] = [:]
        for loop in group.makeIterator() {
            pools[ObjectIdentifier(loop)] = try await loop.submit {
                NIOLoopBound(UpstreamConnectionPool(eventLoop: loop), eventLoop: loop)
            }.get()
        }
        let loopPools = pools
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pool = loopPools[ObjectIdentifier(channel.eventLoop)]!.value
                    var limits = NIOHTTPDecoderLimitConfiguration()
                    limits.maxHeaderListSize = options.maxHeaderBytes
                    limits.maxHeaderFieldSize = options.maxHeaderBytes
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withErrorHandling: false, withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits
                    )
                    let timeouts = ClientTimeouts(headerTimeout: options.headerTimeout, idleTimeout: options.idleTimeout)
                    try channel.pipeline.syncOperations.addHandler(timeouts, position: .first)
                    try channel.pipeline.syncOperations.addHandler(ProtocolErrorResponder())
                    try channel.pipeline.syncOperations.addHandler(
                        ProxyHandler(active: active, pool: pool, options: options, timeouts: timeouts)
                    )
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
        return Listener(name: "proxy", channel: channel, logger: logger)
    }
}
