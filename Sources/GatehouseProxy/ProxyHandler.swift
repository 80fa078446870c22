import Atomics
import GatehouseModel
import NIOCore
import NIOHTTP1
import NIOSSL

/// Proxies the HTTP/1.1 requests of one client connection. Each request loads the active config
/// once at its head and keeps it to its end; request and response bodies stream through without
/// buffering, reads pausing on either side while the other cannot take more.
///
/// Lives on the client channel's event loop, which also owns the upstream connections it uses.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamConnectionDelegate {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = IOData
    /// Responses are written as bytes (`ResponseHeadBytes`): upstream bodies pass through as
    /// they came.
    typealias OutboundOut = IOData

    /// One request on its way through. A class: it changes with every part of the request and
    /// response, and a struct this size would be copied (and its references retained) each time.
    final class Exchange {
        let config: CompiledConfig
        let upstream: CompiledUpstream
        /// The request line and fields that go upstream, then the ending of the last attempt
        /// (`Host`, which differs per target, and the empty line).
        private var head: ByteBuffer
        private let headLength: Int
        let method: HTTPMethod
        /// The request body is chunked (it is framed again on its way upstream).
        let chunked: Bool
        let clientVersion: HTTPVersion
        let clientKeepAlive: Bool
        let requestID: RequestID
        let idempotent: Bool
        let balancerKey: Balancer.RequestKey
        let preserveHost: Bool
        /// The client asked for a WebSocket; a 101 from the upstream turns both connections
        /// into one tunnel.
        let websocket: Bool
        /// The client asked for some upgrade: its connection cannot carry another HTTP request.
        let upgradeRequested: Bool
        var switching = false
        var target = 0
        var tried: TargetSet = []
        var connection: UpstreamConnection?
        var reused = false
        var buffered: [ByteBuffer] = []
        var requestEnded = false
        var bodyForwarded = false
        var bodyBytes = 0
        var responseStarted = false
        /// The upstream's body ends with its connection and the client's stays open: the gateway
        /// frames the body in chunks.
        var chunkEncodes = false
        var upstreamKeepAlive = true
        var closeClientAfter = false
        /// Headers policies add to the response (CORS, rate-limit state), whoever answers.
        var addedHeaders: [(String, String)] = []
        /// The route's `cors` policy answers CORS: the upstream's own CORS headers are dropped.
        var replacesCORS = false
        /// The client sent `Expect: 100-continue`: it is told to go on once policies let it.
        var expectsContinue = false

        init(
            config: CompiledConfig, upstream: CompiledUpstream, head: ByteBuffer, method: HTTPMethod, chunked: Bool, clientVersion: HTTPVersion,
            clientKeepAlive: Bool,
            requestID: RequestID, idempotent: Bool, balancerKey: Balancer.RequestKey, preserveHost: Bool, websocket: Bool, upgradeRequested: Bool
        ) {
            self.config = config
            self.upstream = upstream
            self.head = head
            self.headLength = head.writerIndex
            self.method = method
            self.chunked = chunked
            self.clientVersion = clientVersion
            self.clientKeepAlive = clientKeepAlive
            self.requestID = requestID
            self.idempotent = idempotent
            self.balancerKey = balancerKey
            self.preserveHost = preserveHost
            self.websocket = websocket
            self.upgradeRequested = upgradeRequested
        }

        /// The head's buffer, for the next request's head once this one is done.
        var headBuffer: ByteBuffer { head }

        /// The whole head for one attempt, in one buffer so it is one write. A retry ends it
        /// again (copying it only if the last attempt's write still holds it).
        func head(ending end: ByteBuffer) -> ByteBuffer {
            head.moveWriterIndex(to: headLength)
            head.writeImmutableBuffer(end)
            return head
        }
    }

    private let active: ActiveConfig
    let pool: UpstreamConnectionPool
    let options: ProxyOptions
    let timeouts: ClientTimeouts?
    let health: TargetHealth
    var context: ChannelHandlerContext?
    var exchange: Exchange?
    /// The rest of a request body arriving after its response was already sent.
    var discardingBody = false
    var readPending = false
    /// Requests the client sent ahead (HTTP pipelining), held until the one in flight is answered.
    var pipelined = PipelinedRequests()
    /// A drain asked this connection to close once the request in flight is answered.
    var quiescing = false
    var timer: Scheduled<Void>?
    /// An upstream response head held back for the first bytes of its body, so that a small
    /// response goes out as one write; written at the latest when the upstream read that brought
    /// it completes.
    var heldHead: ByteBuffer?
    /// Head buffers kept for the next request, one each way (`SpareBuffer`).
    var spareRequestHead = SpareBuffer()
    var spareResponseHead = SpareBuffer()
    /// Response bytes were written since the last flush (an empty flush still costs a trip
    /// through the channel).
    var responseUnflushed = false
    /// Whether `timer` is the read-timeout check, which `readDeadline` can push back.
    var timerChecksReads = false
    var readDeadline: NIODeadline?
    private var clientIP = ""
    private var localPort = ""
    /// The parser refused the request: where the client's next bytes belong is unknown.
    var framingLost = false
    /// The connection is closing after an answer the client may still be sending to.
    var lingering: LingeringClose?
    /// Whether the peer is a trusted proxy: decided once per connection.
    private var trustedPeer = false

    init(active: ActiveConfig, pool: UpstreamConnectionPool, options: ProxyOptions, health: TargetHealth, timeouts: ClientTimeouts? = nil) {
        self.active = active
        self.pool = pool
        self.options = options
        self.health = health
        self.timeouts = timeouts
    }

    /// Kept from writability events: asked on every upstream read, and the channel's own answer
    /// costs a trip through the pipeline.
    private(set) var clientIsWritable = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        clientIsWritable = context.channel.isWritable
        clientIP = context.channel.remoteAddress?.ipAddress ?? ""
        localPort = String(context.channel.localAddress?.port ?? 0)
        trustedPeer = options.trustedProxies.contains { $0.contains(clientIP) }
    }

    /// The context and this handler hold each other: let go when the pipeline drops the handler,
    /// which a WebSocket tunnel does without the channel going inactive.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: Client side

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Raw bytes once the decoder is gone, and not looked at.
        if lingering != nil { return lingeredBytesArrived() }
        let part = unwrapInboundIn(data)
        // A request sent before the one in flight was answered (HTTP pipelining) waits its turn.
        if !pipelined.isEmpty || (exchange != nil && part.isHead) {
            return pipelined.append(part)
        }
        handle(part)
    }

    func handle(_ part: HTTPServerRequestPart) {
        switch part {
        case .head(let head):
            discardingBody = false
            timeouts?.headArrived()
            begin(head)
        case .body(let buffer):
            guard !discardingBody, let exchange else { return }
            exchange.bodyBytes += buffer.readableBytes
            if let limit = options.maxBodyBytes, exchange.bodyBytes > limit {
                if exchange.responseStarted { return cutShort() }
                return failBeforeResponse(.payloadTooLarge, "body_too_large", "the request body is over the limit of \(limit) bytes", close: true)
            }
            if let connection = exchange.connection {
                exchange.bodyForwarded = true
                connection.writeBody(buffer, chunked: exchange.chunked)
            } else {
                exchange.buffered.append(buffer)
            }
        case .end:
            timeouts?.requestEnded()
            if discardingBody {
                discardingBody = false
                return
            }
            guard let exchange else { return }
            exchange.requestEnded = true
            if let connection = exchange.connection {
                connection.writeEnd(chunked: exchange.chunked)
                connection.flush()
                armReadTimeout()
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.connection?.flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        // While a request waits for its upstream connection, or that connection cannot take more
        // bytes, or enough requests sent ahead wait their turn, stop reading the client: memory
        // stays bounded whatever the body size.
        if lingering != nil {
            context.read()
        } else if pipelined.isFull {
            holdClientReads()
        } else if let exchange, !exchange.requestEnded, !(exchange.connection?.isWritable ?? false) {
            holdClientReads()
        } else {
            context.read()
        }
    }

    private func holdClientReads() {
        readPending = true
        // The client's silence from now on is the gateway's doing, not a stalled body.
        timeouts?.clientReadsHeld(true)
    }

    /// Reads the client again if reads were held and what held them is gone.
    func resumeClientReads() {
        guard readPending, let context else { return }
        readPending = false
        timeouts?.clientReadsHeld(false)
        read(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        clientIsWritable = context.channel.isWritable
        if clientIsWritable { exchange?.connection?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        if let connection = exchange?.connection { pool.release(connection, reusable: false) }
        exchange = nil
        heldHead = nil
        lingering = nil
        pipelined.removeAll()
        self.context = nil
        clientIsWritable = false
        context.fireChannelInactive()
    }

    private func begin(_ head: HTTPRequestHead) {
        if let refusal = RequestRules.check(head, options: options) {
            return respondLocally(head, refusal.status, refusal.code, refusal.message, close: true)
        }
        let target: RequestTarget
        do {
            target = try RequestTarget(head.uri)
        } catch {
            return respondLocally(head, .badRequest, "bad_request", "invalid request target: \(error)", close: true)
        }
        guard let config = active.load() else {
            return respondLocally(head, .serviceUnavailable, "not_ready", "no config has been applied yet")
        }
        let hostHeader = target.authority ?? head.headers.first(name: "host") ?? ""
        let host = RequestTarget.hostWithoutPort(hostHeader)
        let method = head.method.rawValue
        let path = target.path
        if Self.isPreflight(head), let requested = head.headers.first(name: "access-control-request-method"),
            let cors = config.routes.match(host: host, path: path, method: requested, header: { head.headers[$0] })?.entry.route.policies?.cors
        {
            return answerPreflight(head, cors, metrics: config.policyMetrics)
        }
        guard let found = config.routes.match(host: host, path: path, method: method, header: { head.headers[$0] }) else {
            return respondLocally(head, .notFound, "no_route", "no route matches \(method) \(path)")
        }
        let route = found.entry.route
        let forwardedPath = UpstreamPath.forwarded(path, route: route, match: found)

        let trusted = trustedPeer
        let keyAuth = route.policies?.keyAuth
        var query = target.query
        var addedHeaders: [(String, String)] = []
        var consumer: KeyAuthPolicy.Caller?
        if let chain = route.policies {
            if let cors = chain.cors { addedHeaders = cors.actualHeaders(origin: head.headers.first(name: "origin")) }
            if let auth = keyAuth {
                guard let caller = authenticate(head, auth, query: &query, answerHeaders: addedHeaders, metrics: config.policyMetrics) else {
                    return
                }
                consumer = caller
            }
        }
        var upstreamHead = UpstreamRequestHead(method: head.method, path: forwardedPath, query: query, spare: &spareRequestHead)
        upstreamHead.copyEndToEnd(
            head.headers, dropping: keyAuth?.dropped(trusted: trusted) ?? (trusted ? Self.replacedWhenTrusted : Self.replacedWithHost),
            keepingUnderscores: options.allowsUnderscoreHeaders)
        if let consumer { Self.addConsumer(consumer, to: &upstreamHead) }
        let chunked = head.headers[canonicalForm: "transfer-encoding"].last?.lowercased() == "chunked"
        if chunked {
            upstreamHead.add("transfer-encoding", "chunked")
        } else if head.method.hasRequestBodyExpected, !head.headers.contains(name: "content-length") {
            upstreamHead.add("content-length", "0")
        }
        let upgradeRequested = head.headers.contains(name: "upgrade") && ForwardedRequest.connectionNamed(head.headers).contains("upgrade")
        let websocket =
            upgradeRequested && head.method == .GET
            && head.headers[canonicalForm: "upgrade"].contains { $0.lowercased() == "websocket" }
        if websocket {
            // Hop-by-hop, so left out above; a WebSocket upgrade is forwarded on purpose (h2c never is).
            upstreamHead.add("upgrade", "websocket")
            upstreamHead.add("connection", "upgrade")
        }
        ForwardedRequest.addForwarding(to: &upstreamHead, from: head.headers, clientIP: clientIP, host: hostHeader, port: localPort, trusted: trusted)
        ForwardedRequest.addVia(to: &upstreamHead, from: head.headers, version: head.version)
        // The client's id went with its other fields.
        let requestID = head.headers.first(name: "x-request-id").map(RequestID.given) ?? pool.requestIDs.draw()
        if case .drawn(let high, let low) = requestID { upstreamHead.add(drawn: high, low) }
        let preserveHost = route.preserveHost && !hostHeader.isEmpty
        if preserveHost { upstreamHead.add("host", hostHeader) }

        let key = Balancer.RequestKey(clientIP: clientIP, path: path, headers: head.headers)
        let exchange = Exchange(
            config: config, upstream: config.upstreams[route.upstream], head: (consume upstreamHead).finished(), method: head.method,
            chunked: chunked, clientVersion: head.version,
            clientKeepAlive: head.isKeepAlive, requestID: requestID,
            idempotent: Self.idempotentMethods.contains(head.method), balancerKey: key,
            preserveHost: preserveHost, websocket: websocket, upgradeRequested: upgradeRequested
        )
        exchange.expectsContinue =
            head.version.minor >= 1 && head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" })
        self.exchange = exchange
        guard let chain = route.policies else { return proceed(exchange) }
        exchange.addedHeaders = addedHeaders
        exchange.replacesCORS = chain.cors != nil
        let limits = chain.limits(for: consumer?.consumer)
        if limits.isEmpty { return proceed(exchange) }
        let subject = LimitSubject(
            consumer: consumer?.identified == true ? consumer?.consumer : nil,
            clientIP: limitClientIP(head.headers, peer: clientIP, trusted: trusted), routeID: route.id,
            headers: head.headers)
        runLimits(exchange, limits, from: 0, subject, metrics: config.policyMetrics)
    }

    /// Sends the request upstream once every policy let it through.
    func proceed(_ exchange: Exchange) {
        // The gateway answers `Expect: 100-continue` itself once the request is routed and within
        // its limits (it was stripped from what goes upstream): the client sends its body then.
        if exchange.expectsContinue {
            writeHead(HTTPResponseHead(version: exchange.clientVersion, status: .continue), flush: true)
        }
        connect(excluding: [])
    }

    // MARK: Upstream connection

    private func connect(excluding tried: TargetSet) {
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
                return failBeforeResponse(
                    .serviceUnavailable, "no_healthy_target", "upstream '\(upstream.name)' has no healthy target to send the request to")
            }
            return failBeforeResponse(.badGateway, "upstream_unreachable", "no target of upstream '\(upstream.name)' accepted the connection")
        }
        exchange.target = index
        exchange.tried.insert(index)
        acquire(upstream, index, reuse: true)
    }

    private func acquire(_ upstream: CompiledUpstream, _ index: Int, reuse: Bool) {
        // The usual case, an idle pooled connection, is taken without making a callback.
        if reuse, let exchange, let connection = pool.takeIdle(key: upstream.poolKeys[index], limits: upstream.source.pool) {
            return connected(.success((connection, true)), exchange)
        }
        let requested = exchange
        pool.acquire(
            upstream.endpoints[index], key: upstream.poolKeys[index], tls: upstream.tls.map { ($0.context, $0.serverNames[index]) },
            connectTimeout: upstream.connectTimeout, limits: upstream.source.pool, reuse: reuse
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
            failBeforeResponse(
                .serviceUnavailable, "upstream_busy",
                "every connection to upstream '\(exchange.upstream.name)' allowed by pool.max_connections stayed busy for timeouts.connect")
        case .failure(let error):
            recordFailure(exchange)
            // Nothing was sent yet, so trying another target is safe for any method.
            if exchange.tried.count <= exchange.upstream.retries, exchange.tried.count < exchange.upstream.endpoints.count {
                return connect(excluding: exchange.tried)
            }
            if case ChannelError.connectTimeout = error {
                failBeforeResponse(.gatewayTimeout, "upstream_timeout", "connecting to upstream '\(exchange.upstream.name)' timed out")
            } else {
                failBeforeResponse(.badGateway, "upstream_unreachable", "upstream '\(exchange.upstream.name)' refused the connection")
            }
        case .success(let (connection, reused)):
            exchange.connection = connection
            exchange.reused = reused
            connection.delegate = self
            connection.keepsUnderscoreFields = options.allowsUnderscoreHeaders
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

    func upstreamResponseHead(_ upstreamHead: UpstreamResponseHead, body: UpstreamConnection.ResponseBody) {
        guard let exchange, let context else { return }
        var heldBody = 0
        if case .length(let length) = body, length <= Self.heldBodyLimit { heldBody = length }
        var head = spareResponseHead.take(capacity: upstreamHead.bytes.readableBytes + 256 + heldBody)
        let clientMinor = exchange.clientVersion.minor
        if upstreamHead.status == 101 {
            guard exchange.websocket else { return upstreamFailed(UpstreamResponseError.malformed("101 to a request that asked for no upgrade")) }
            exchange.switching = true
            exchange.responseStarted = true
            head.writeForwardedHead(upstreamHead, clientMinorVersion: clientMinor, dropsCORS: false)
            head.writeStaticString("upgrade: websocket\r\nconnection: upgrade\r\n\r\n")
            return writeResponse(head)
        }
        if upstreamHead.status < 200 {
            // An HTTP/1.0 client cannot be sent informational responses (RFC 9110 §15.2).
            if clientMinor == 0 { return }
            head.writeForwardedHead(upstreamHead, clientMinorVersion: clientMinor, dropsCORS: false)
            head.writeStaticString("\r\n")
            return context.writeAndFlush(wrapOutboundOut(.byteBuffer(head)), promise: nil)
        }
        exchange.responseStarted = true
        exchange.upstreamKeepAlive = upstreamHead.keepAlive && body != .untilClose
        if exchange.upstream.passiveHealth != nil { health.recordSuccess(exchange.upstream.healthKeys[exchange.target]) }
        head.writeForwardedHead(upstreamHead, clientMinorVersion: clientMinor, dropsCORS: exchange.replacesCORS)
        for (name, value) in exchange.addedHeaders { head.writeField(name, value) }
        let unframed = body == .chunked || body == .untilClose
        if clientMinor == 0 {
            // An HTTP/1.0 client reads no chunks: it gets the data, and the close ends the body.
            exchange.connection?.passesChunkFraming = false
        } else if unframed {
            exchange.chunkEncodes = body == .untilClose
            head.writeStaticString("transfer-encoding: chunked\r\n")
        }
        // After an upgrade request the HTTP parser stops: the connection cannot carry more.
        exchange.closeClientAfter = !exchange.clientKeepAlive || (unframed && clientMinor == 0) || exchange.upgradeRequested || quiescing
        if exchange.closeClientAfter {
            head.writeStaticString("connection: close\r\n")
        } else if clientMinor == 0 {
            head.writeStaticString("connection: keep-alive\r\n")
        }
        head.writeStaticString("\r\n")
        if heldBody > 0 {
            heldHead = head
        } else {
            writeResponse(head)
            spareResponseHead.keep(head)
        }
    }

    func upstreamResponseBody(_ bytes: ByteBuffer) {
        guard let exchange, let context else { return }
        if var head = heldHead.take() {
            head.writeImmutableBuffer(bytes)
            writeResponse(head)
            spareResponseHead.keep(head)
        } else if exchange.chunkEncodes {
            responseUnflushed = true
            context.writeChunk(bytes)
        } else {
            writeResponse(bytes)
        }
    }

    func upstreamResponseEnd() {
        guard let exchange else { return }
        if exchange.chunkEncodes { writeResponse(ByteBuffer.lastChunk) }
        writeHeldHead()
        finish(exchange)
    }

    func upstreamSwitchedProtocols(leftover: ByteBuffer) {
        guard let exchange, exchange.switching, let context else { return }
        if leftover.readableBytes > 0 { writeResponse(leftover) }
        switchToTunnel(exchange, context: context)
    }

    func upstreamReadComplete() {
        // Whatever this read brought, the upstream is alive: the read timeout starts again (once
        // per read, not per part of the response).
        if let exchange, exchange.requestEnded { armReadTimeout() }
        writeHeldHead()
        if responseUnflushed {
            responseUnflushed = false
            context?.flush()
        }
    }

    /// Writes part of an upstream's response; it is flushed when the upstream read ends, or with
    /// the response's end.
    private func writeResponse(_ bytes: ByteBuffer) {
        writeHeldHead()
        responseUnflushed = true
        context?.write(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
    }

    func writeHeldHead() {
        guard let head = heldHead.take() else { return }
        responseUnflushed = true
        context?.write(wrapOutboundOut(.byteBuffer(head)), promise: nil)
    }

    func upstreamFailed(_ error: any Error) {
        guard let exchange, let connection = exchange.connection else { return }
        exchange.connection = nil
        pool.release(connection, reusable: false)
        if exchange.responseStarted {
            cancelTimer()
            self.exchange = nil
            cutShort()
        } else if let error = error as? UpstreamResponseError {
            // The upstream answered, wrongly: not a stale connection, and not retried elsewhere.
            recordFailure(exchange)
            failBeforeResponse(.badGateway, "upstream_invalid_response", "upstream '\(exchange.upstream.name)' sent an invalid response: \(error)")
        } else if exchange.reused, !exchange.bodyForwarded, exchange.idempotent {
            // A pooled connection the server had already closed: retry once on a fresh one.
            exchange.reused = false
            cancelTimer()
            retryOnFreshConnection()
        } else {
            recordFailure(exchange)
            if retryElsewhere() { return }
            if error is NIOSSLError || error is BoringSSLError {
                return failBeforeResponse(.badGateway, "upstream_tls_failed", "TLS with upstream '\(exchange.upstream.name)' failed: \(error)")
            }
            failBeforeResponse(.badGateway, "upstream_failed", "upstream '\(exchange.upstream.name)' closed the connection before responding")
        }
    }

    private func retryOnFreshConnection() {
        guard let exchange else { return }
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
        connect(excluding: exchange.tried)
        return true
    }

    private func finish(_ exchange: Exchange) {
        disarmReadTimeout()
        self.exchange = nil
        spareRequestHead.keep(exchange.headBuffer)
        if let connection = exchange.connection {
            pool.release(connection, reusable: exchange.requestEnded && exchange.upstreamKeepAlive)
        }
        if !exchange.requestEnded { discardingBody = true }
        writeEnd(closeAfter: exchange.closeClientAfter)
        answered(closing: exchange.closeClientAfter)
    }

    /// Counts a failed attempt against the target, for passive health.
    func recordFailure(_ exchange: Exchange) {
        guard let passive = exchange.upstream.passiveHealth else { return }
        _ = health.recordFailure(
            exchange.upstream.healthKeys[exchange.target], threshold: passive.failures, cooldown: passive.cooldown, now: .now()
        )
    }

    static let replacedWithHost = ForwardedRequest.replacedForwarding + ["host", "expect", "via"]
    static let replacedWhenTrusted = ForwardedRequest.rewritten + ["host", "expect"]
    /// Ends a head that carries the client's `Host` (`preserve_host`).
    private static let endOfHead = ByteBuffer(string: "\r\n")
    /// A body up to this size is copied behind its head, making one write of both.
    private static let heldBodyLimit = 8 * 1024
    private static let idempotentMethods: [HTTPMethod] = [.GET, .HEAD, .OPTIONS, .PUT, .DELETE]
}

extension HTTPMethod {
    /// Methods whose requests normally carry a body, so an absent body is sent as `Content-Length: 0`.
    var hasRequestBodyExpected: Bool { self == .POST || self == .PUT || self == .PATCH }
}
