import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The data plane's HTTP listener: one `SO_REUSEPORT` socket per event loop, all on the same
/// port, each serving its connections on its own loop with that loop's upstream connection pool.
/// The kernel spreads connections over the sockets; a connection never changes thread, and a
/// new process can listen beside an old one during an upgrade.
public enum ProxyServer {
    /// Binds the listeners; requests are served from then on.
    public static func bind(
        _ address: ListenAddress, group: MultiThreadedEventLoopGroup, active: ActiveConfig, options: ProxyOptions = ProxyOptions(),
        state: DataPlaneState? = nil, health: TargetHealth = TargetHealth(), metrics: EdgeMetrics = EdgeMetrics(), logger: Logger
    ) async throws -> Listener {
        var channels: [any Channel] = []
        var trackers: [ConnectionTracker] = []
        var port = address.port
        let loops = Array(group.makeIterator())
        let perLoop = max(1, (options.maxConnections ?? AcceptGate.defaultLimit()) / loops.count)
        do {
            for loop in loops {
                let pool = try await loop.submit {
                    NIOLoopBound(UpstreamConnectionPool(eventLoop: loop, keepsUnderscoreFields: options.allowsUnderscoreHeaders, metrics: metrics), eventLoop: loop)
                }.get()
                let tracker = ConnectionTracker(serverEventLoop: loop)
                let channel = try await ServerBootstrap(group: loop, childGroup: loop)
                    .serverChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(AcceptGate(limit: perLoop, metrics: metrics, logger: logger))
                            try channel.pipeline.syncOperations.addHandler(tracker)
                        }
                    }
                    .serverChannelOption(.backlog, value: 1024)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .serverChannelOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
                    .childChannelOption(.socketOption(.so_keepalive), value: 1)
                    .childChannelOption(.maxMessagesPerRead, value: 16)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try configure(
                                channel.pipeline.syncOperations, pool: pool.value, active: active, options: options, health: health, logger: logger)
                        }
                    }
                    .bind(host: address.host, port: port)
                    .get()
                // Port 0 picks a port once; the other loops' sockets join it.
                port = channel.localAddress!.port!
                channels.append(channel)
                trackers.append(tracker)
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        let drain = Listener.Drain(connections: trackers, timeout: options.drainTimeout, onStart: { state?.startDraining() })
        return Listener(name: "proxy", channels: channels, logger: logger, drain: drain)
    }

    /// A client connection's pipeline: raw-byte timeouts, the HTTP/1 request decoder with its
    /// limits, then the proxy.
    private static func configure(
        _ pipeline: ChannelPipeline.SynchronousOperations, pool: UpstreamConnectionPool, active: ActiveConfig, options: ProxyOptions,
        health: TargetHealth, logger: Logger
    ) throws {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = options.maxHeaderBytes
        limits.maxHeaderFieldSize = options.maxHeaderBytes
        // Only a decoder: the proxy writes responses as bytes (ResponseHeadBytes), and handles
        // pipelining, drains and protocol errors itself (ProxyHandler+Connection). After an
        // upgrade, bytes the client sent behind its request belong to the tunnel.
        let decoder = HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, limitConfiguration: limits)
        try pipeline.addHandler(ByteToMessageHandler(decoder))
        let timeouts = ClientTimeouts(options: options)
        try pipeline.addHandler(timeouts, position: .first)
        try pipeline.addHandler(ProxyHandler(active: active, pool: pool, options: options, health: health, timeouts: timeouts, logger: logger))
    }
}
