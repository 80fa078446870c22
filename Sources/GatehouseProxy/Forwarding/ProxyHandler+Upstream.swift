import GatehouseModel
import NIOCore
import NIOHTTP1

/// The upstream side of a request: picking a target, taking a pooled connection or opening one,
/// sending the head and buffered body, and what happens when an attempt fails (retries,
/// passive health).
extension ProxyHandler {
    func connect(excluding tried: TargetSet) {
        guard let exchange else { return }
        let upstream = exchange.upstream
        var excluding = tried
        if upstream.checksHealth {
            let now = NIODeadline.now()
            for (index, key) in upstream.healthKeys.enumerated() where !health.isHealthy(key, now: now) { excluding.insert(index) }
        }
        // A closure literal in the call, not a local: it then needs no context on the heap.
        let picked = upstream.balancer.pick(excluding: excluding, key: exchange.balancerKey) { [pool] index in
            pool.activeCount(upstream.poolKeys[index])
        }
        guard let index = picked else {
            if tried.isEmpty {
                return failUpstream(
                    .serviceUnavailable, "no_healthy_target", "upstream '\(upstream.name)' has no healthy target to send the request to")
            }
            return failUpstream(.badGateway, "upstream_unreachable", "no target of upstream '\(upstream.name)' accepted the connection")
        }
        exchange.target = index
        exchange.tried.insert(index)
        measure.attempting(upstream, index)
        acquire(upstream, index, reuse: true)
    }

    private func acquire(_ upstream: CompiledUpstream, _ index: Int, reuse: Bool) {
        // The usual case, an idle pooled connection, is taken without making a callback.
        if reuse, let exchange, let connection = pool.takeIdle(key: upstream.poolKeys[index], limits: upstream.source.pool) {
            return connected(.success((connection, true)), exchange)
        }
        // None idle (or a fresh one wanted): one is opened, or waited for at the pool's limit.
        let requested = exchange
        pool.acquire(
            upstream.endpoints[index], key: upstream.poolKeys[index], tls: upstream.tls.map { ($0.context, $0.serverNames[index]) },
            connectTimeout: upstream.connectTimeout, limits: upstream.source.pool, reuse: false
        ) { [self, pool] result in
            // Strong (see `UpstreamConnection.delegate`): the pool keeps the callback only
            // until the connection comes or the connect timeout passes.
            // The request may have ended meanwhile (its client gone, or answered by the gateway),
            // and another begun: the connection then serves the pool's next request.
            guard let exchange = self.exchange, exchange === requested else {
                if case .success(let (connection, _)) = result { pool.release(connection, reusable: true) }
                return
            }
            self.connected(result, exchange)
        }
    }

    private func connected(_ result: Result<(UpstreamConnection, reused: Bool), any Error>, _ exchange: Exchange) {
        switch result {
        case .failure(is UpstreamConnectionPool.Saturated):
            failUpstream(
                .serviceUnavailable, "upstream_busy",
                "every connection to upstream '\(exchange.upstream.name)' allowed by pool.max_connections stayed busy for timeouts.connect")
        case .failure(let error):
            let timedOut = if case ChannelError.connectTimeout = error { true } else { false }
            recordFailure(exchange, timedOut ? .timeout : .connectFailure)
            // Nothing was sent yet, so trying another target is safe for any method.
            if exchange.tried.count <= exchange.upstream.connectRetries, exchange.tried.count < exchange.upstream.endpoints.count {
                countRetry(exchange)
                return connect(excluding: exchange.tried)
            }
            if timedOut {
                failUpstream(.gatewayTimeout, "upstream_timeout", "connecting to upstream '\(exchange.upstream.name)' timed out")
            } else {
                failUpstream(.badGateway, "upstream_unreachable", "upstream '\(exchange.upstream.name)' refused the connection", cause: error)
            }
        case .success(let (connection, reused)):
            exchange.connection = connection
            exchange.reused = reused
            connection.delegate = self
            let end = exchange.preserveHost ? Self.endOfHead : exchange.upstream.endpoints[exchange.target].hostLine
            connection.writeHead(exchange.head(ending: end), isHEAD: exchange.method == .HEAD)
            for buffer in exchange.buffered {
                connection.writeBody(buffer, chunked: exchange.chunked)
            }
            exchange.bodyForwarded = !exchange.buffered.isEmpty
            exchange.buffered = []
            if exchange.requestEnded { connection.writeEnd(chunked: exchange.chunked) }
            connection.flush()
            if exchange.requestEnded { armReadTimeout() }
            resumeClientReads()
        }
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable {
            cancelTimer()
            resumeClientReads()
        } else if let exchange {
            schedule(after: exchange.upstream.writeTimeout) { handler in
                handler.timedOut("writing to upstream '\(exchange.upstream.name)' timed out")
            }
        }
    }

    func upstreamFailed(_ error: any Error) {
        guard let exchange, let connection = exchange.connection else { return }
        exchange.connection = nil
        pool.release(connection, reusable: false)
        if exchange.responseStarted {
            cancelTimer()
            logUpstreamFailure(
                exchange, "upstream_failed", "upstream '\(exchange.upstream.name)' failed after its response had started", cause: error)
            cutShort()
        } else if let error = error as? UpstreamResponseError {
            // The upstream answered, wrongly: not a stale connection, and not retried elsewhere.
            recordFailure(exchange, .badResponse)
            failUpstream(.badGateway, "upstream_invalid_response", "upstream '\(exchange.upstream.name)' sent an invalid response: \(error)")
        } else if exchange.reused, !exchange.bodyForwarded, exchange.idempotent {
            // A pooled connection the server had already closed: retry once on a fresh one.
            exchange.reused = false
            cancelTimer()
            countAttempt(exchange, .reset)
            countRetry(exchange)
            retryOnFreshConnection()
        } else {
            recordFailure(exchange, .reset)
            if retryElsewhere() { return }
            if let reason = UpstreamTLSFailure.reason(error) {
                return failUpstream(
                    .badGateway, "upstream_tls_failed", "TLS with upstream '\(exchange.upstream.name)' failed: \(reason)", cause: error)
            }
            failUpstream(.badGateway, "upstream_failed", "upstream '\(exchange.upstream.name)' closed the connection before responding", cause: error)
        }
    }

    private func retryOnFreshConnection() {
        guard let exchange else { return }
        measure.attempting(exchange.upstream, exchange.target)
        acquire(exchange.upstream, exchange.target, reuse: false)
    }

    /// After an attempt failed before any byte of a response reached the client, sends the request
    /// to a target not tried yet, within `retries`: only for an idempotent method, and only while
    /// no byte of its body was sent (bodies are streamed, not kept). Returns whether it did.
    func retryElsewhere() -> Bool {
        guard let exchange, !exchange.responseStarted, exchange.idempotent, !exchange.bodyForwarded,
            exchange.tried.count <= exchange.upstream.retries, exchange.tried.count < exchange.upstream.endpoints.count
        else { return false }
        cancelTimer()
        if let connection = exchange.connection { pool.release(connection, reusable: false) }
        exchange.connection = nil
        exchange.reused = false
        countRetry(exchange)
        connect(excluding: exchange.tried)
        return true
    }

    /// Counts a failed attempt against the target: in the metrics, and for passive health.
    func recordFailure(_ exchange: Exchange, _ outcome: MeterLayout.Outcome) {
        countAttempt(exchange, outcome)
        guard let passive = exchange.upstream.passiveHealth else { return }
        _ = health.recordFailure(
            exchange.upstream.healthKeys[exchange.target], threshold: passive.failures, cooldown: passive.cooldown, now: .now()
        )
    }

    /// Ends a head that carries the client's `Host` (`preserve_host`).
    private static let endOfHead = ByteBuffer(string: "\r\n")
}
