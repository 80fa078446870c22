import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// The data plane's HTTP listener: one `SO_REUSEPORT` socket per event loop, all on the same
/// port, each serving its connections on its own loop with that loop's upstream connection pool.
/// The kernel spreads connections over the sockets; a connection never changes thread, and a
/// new process can listen beside an old one during an upgrade.
public enum ProxyServer {
    /// Binds the listeners; requests are served from then on.
    /// - Parameters:
    ///   - sockets: listening sockets to serve instead of binding new ones (handed over by the
    ///     process this one replaces, or passed by systemd); they are the listener's from then on.
    ///   - requestMetrics: where requests are counted (the applier's, whose slots the config
    ///     holds); nil counts none.
    ///   - accessLog: where a line per request goes; nil writes none.
    ///   - tracer: where sampled requests' spans go; nil exports none.
    ///   - tls: the TLS listener's context (`EdgeTLS`); nil serves plain HTTP.
    public static func bind(
        _ address: ListenAddress, group: MultiThreadedEventLoopGroup, active: ActiveConfig, options: ProxyOptions = ProxyOptions(),
        state: DataPlaneState? = nil, health: TargetHealth = TargetHealth(), metrics: EdgeMetrics = EdgeMetrics(),
        requestMetrics: RequestMetrics? = nil, accessLog: AccessLog? = nil, tracer: SpanExporter? = nil, sockets given: ListeningSockets? = nil, tls: NIOSSLContext? = nil,
        logger: Logger
    ) async throws -> Listener {
        let loops = Array(group.makeIterator())
        let sockets = try given ?? ListeningSockets.bind(address, count: loops.count)
        var pools: [ObjectIdentifier: NIOLoopBound<UpstreamConnectionPool>] = [:]
        var meters: [ObjectIdentifier: NIOLoopBound<LoopMeters>] = [:]
        var logs: [ObjectIdentifier: NIOLoopBound<LoopAccessLog>] = [:]
        for loop in loops {
            pools[ObjectIdentifier(loop)] = try await loop.submit {
                NIOLoopBound(
                    UpstreamConnectionPool(eventLoop: loop, keepsUnderscoreFields: options.allowsUnderscoreHeaders, metrics: metrics), eventLoop: loop)
            }.get()
            meters[ObjectIdentifier(loop)] = try await loop.submit { requestMetrics.map { NIOLoopBound($0.meters(), eventLoop: loop) } }.get()
            logs[ObjectIdentifier(loop)] = try await loop.submit { accessLog.map { NIOLoopBound(LoopAccessLog($0, loop: loop), eventLoop: loop) } }.get()
        }
        let (pooled, metered, logged) = (pools, meters, logs)
        // A socket per worker keeps each connection on the loop that accepted it, with that
        // loop's pool; fewer sockets than workers (systemd passes one) spread connections over all.
        let spread = sockets.descriptors.count < loops.count
        let perSocket = max(1, (options.maxConnections ?? AcceptGate.defaultLimit()) / sockets.descriptors.count)
        var channels: [any Channel] = []
        var trackers: [ConnectionTracker] = []
        var adopted = 0
        do {
            for (index, descriptor) in sockets.descriptors.enumerated() {
                let loop = loops[index % loops.count]
                let tracker = ConnectionTracker(serverEventLoop: loop)
                let channel = try await ServerBootstrap(group: loop, childGroup: spread ? group : loop)
                    .serverChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(AcceptGate(limit: perSocket, metrics: metrics, logger: logger))
                            try channel.pipeline.syncOperations.addHandler(tracker)
                        }
                    }
                    .childChannelOption(.socketOption(.so_keepalive), value: 1)
                    .childChannelOption(.maxMessagesPerRead, value: 16)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try configure(
                                channel.pipeline.syncOperations, pool: pooled[ObjectIdentifier(channel.eventLoop)]!.value,
                                meters: metered[ObjectIdentifier(channel.eventLoop)]?.value, accessLog: logged[ObjectIdentifier(channel.eventLoop)]?.value,
                                tracer: tracer, active: active, options: options, health: health, tls: tls, logger: logger)
                        }
                    }
                    .withBoundSocket(descriptor)
                    .get()
                adopted += 1
                channels.append(channel)
                trackers.append(tracker)
            }
        } catch {
            for channel in channels { try? await channel.close() }
            for descriptor in sockets.descriptors.dropFirst(adopted) { close(descriptor) }
            throw error
        }
        if sockets.origin != .bound {
            logger.notice("proxy serves listening sockets it was given", metadata: ["from": "\(sockets.origin.rawValue)", "sockets": "\(channels.count)"])
        }
        var drain = Listener.Drain(connections: trackers, timeout: options.drainTimeout, onStart: { state?.startDraining() })
        if accessLog != nil || tracer != nil {
            // The lines still in the loops' buffers, and the spans queued, go out before the process ends.
            drain.onEnd = {
                for loop in loops {
                    guard let log = logged[ObjectIdentifier(loop)] else { continue }
                    try? await loop.submit { log.value.handOver() }.get()
                }
                await accessLog?.stop()
                await tracer?.flush()
            }
        }
        return Listener(name: tls == nil ? "proxy" : "proxy-tls", channels: channels, logger: logger, drain: drain, descriptors: sockets.descriptors)
    }

    /// A client connection's pipeline: TLS if the listener has it, raw-byte timeouts, then the
    /// proxy, which parses requests itself (GatehouseHTTP1).
    private static func configure(
        _ pipeline: ChannelPipeline.SynchronousOperations, pool: UpstreamConnectionPool, meters: LoopMeters?, accessLog: LoopAccessLog?,
        tracer: SpanExporter?, active: ActiveConfig, options: ProxyOptions, health: TargetHealth, tls: NIOSSLContext?, logger: Logger
    ) throws {
        let timeouts = ClientTimeouts(options: options)
        try pipeline.addHandler(timeouts, position: .first)
        if let tls {
            try pipeline.addHandler(HandshakeDeadline(timeout: options.headerTimeout), position: .first)
            try pipeline.addHandler(NIOSSLServerHandler(context: tls), position: .first)
        }
        try pipeline.addHandler(
            ProxyHandler(
                active: active, pool: pool, meters: meters, accessLog: accessLog, tracer: tracer, options: options, health: health, timeouts: timeouts,
                secure: tls != nil, logger: logger))
    }
}
