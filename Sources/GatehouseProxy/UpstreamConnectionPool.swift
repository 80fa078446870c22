import GatehouseModel
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Keep-alive connections to upstream targets for one event loop. Only that loop touches it, so
/// it needs no locks; a request borrows a connection and gives it back when its response ended.
final class UpstreamConnectionPool {
    struct Limits {
        var maxIdlePerTarget = 64
        var idleTimeout: TimeAmount = .seconds(60)
    }

    let eventLoop: any EventLoop
    private let limits: Limits
    private var idle: [String: [UpstreamConnection]] = [:]
    private var active: [String: Int] = [:]

    init(eventLoop: any EventLoop, limits: Limits = Limits()) {
        self.eventLoop = eventLoop
        self.limits = limits
    }

    /// Requests in flight to `key` on this loop (for `least-connections`).
    func activeCount(_ key: String) -> Int { active[key] ?? 0 }

    /// A connection to `host:port`: an idle one when there is one, else a new one.
    /// The callback runs on this loop with the connection and whether it was reused.
    func acquire(
        _ target: UpstreamEndpoint, key: String, tls: (context: NIOSSLContext, serverName: String?)?, connectTimeout: TimeAmount,
        reuse: Bool = true, _ callback: @escaping (Result<(UpstreamConnection, reused: Bool), any Error>) -> Void
    ) {
        eventLoop.preconditionInEventLoop()
        while reuse, let connection = idle[key]?.popLast() {
            connection.idleTimer?.cancel()
            connection.idleTimer = nil
            if connection.isOpen {
                active[key, default: 0] += 1
                return callback(.success((connection, true)))
            }
        }
        active[key, default: 0] += 1
        let connection = UpstreamConnection(key: key)
        let handler = NIOLoopBound(connection, eventLoop: eventLoop)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls.context, serverHostname: tls.serverName))
                    }
                    // After a 101, bytes the upstream sent behind it belong to the new protocol.
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes)
                    try channel.pipeline.syncOperations.addHandler(handler.value)
                }
            }
            .connect(host: target.host, port: target.port)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success:
                    callback(.success((connection, false)))
                case .failure(let error):
                    self.active[key, default: 1] -= 1
                    callback(.failure(error))
                }
            }
    }

    /// Gives a connection back. A reusable one waits idle for the next request; any other is closed.
    func release(_ connection: UpstreamConnection, reusable: Bool) {
        eventLoop.preconditionInEventLoop()
        active[connection.key, default: 1] -= 1
        connection.delegate = nil
        guard reusable, connection.isOpen, (idle[connection.key]?.count ?? 0) < limits.maxIdlePerTarget else {
            return connection.close()
        }
        idle[connection.key, default: []].append(connection)
        connection.onClose = { [weak self] closed in
            self?.idle[closed.key]?.removeAll { $0 === closed }
        }
        connection.idleTimer = eventLoop.assumeIsolated().scheduleTask(in: limits.idleTimeout) { [weak connection] in
            connection?.close()
        }
    }

    /// Takes a connection out of the pool's accounting for good: it became a tunnel.
    func detach(_ connection: UpstreamConnection) {
        eventLoop.preconditionInEventLoop()
        active[connection.key, default: 1] -= 1
        connection.delegate = nil
    }

    /// Closes every idle connection (on shutdown).
    func closeIdle() {
        let all = idle.values.flatMap { $0 }
        idle.removeAll()
        for connection in all { connection.close() }
    }
}
