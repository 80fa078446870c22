import Atomics
import GatehouseHTTP1
import GatehouseModel
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// Proxies the HTTP/1.1 requests of one client connection, read from its bytes by the gateway's
/// own parser (GatehouseHTTP1: fields stay ranges of the bytes they came in). Each request loads the active config
/// once at its head and keeps it to its end; request and response bodies stream through without
/// buffering, reads pausing on either side while the other cannot take more.
///
/// Lives on the client channel's event loop, which also owns the upstream connections it uses.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamConnectionDelegate {
    typealias InboundIn = ByteBuffer
    /// Bytes the client sent behind a request that switched protocols, for the tunnel.
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    /// Responses are written as bytes (`ResponseHeadBytes`): upstream bodies pass through as
    /// they came.
    typealias OutboundOut = IOData

    /// One request on its way through. A class: it changes with every part of the request and
    /// response, and a struct this size would be copied (and its references retained) each time.
    final class Exchange: ClientExchange {
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
        /// The route's `Strict-Transport-Security` is in `addedHeaders`: the upstream's is left out.
        var replacesHSTS = false
        /// On a route with limits the gateway writes the limit fields; the upstream's are dropped.
        var replacesLimits = false
        /// The window each limit that counted this request counted it in, in the chain's order.
        var countedWindows: [Int64] = []
        /// The route's response transform, with its values for this request worked out.
        var responseTransform: ResponseTransformPolicy?
        var responseValues: ResponseTransformPolicy.Values?
        /// The client sent `Expect: 100-continue` and has not been told to go on yet: it is once
        /// policies let it.
        var expectsContinue = false
        /// The route checks this request's JSON body: it is held (up to the policy's size) and
        /// goes upstream only once it has ended and passed.
        var bodyCheck: RequestValidationPolicy?
        /// Every policy let the request's head through; it waits for its body to be checked.
        var awaitingBodyCheck = false
        /// The response head held back for the first bytes of its body, so that a small response
        /// goes out as one write; written at the latest when the upstream read that brought it
        /// completes.
        var heldHead: ByteBuffer?

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

        /// A body being checked is read to its end (its size is bounded) before any upstream is
        /// asked; else the body is read while its upstream connection takes it.
        var takesClientBytes: Bool {
            if let connection { return requestEnded || connection.isWritable }
            return requestEnded || bodyCheck != nil
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
    /// This loop's request metrics and access log; nil when off.
    let meters: LoopMeters?
    let accessLog: LoopAccessLog?
    /// Where sampled requests' spans go; nil when no collector is set.
    let tracer: SpanExporter?
    /// Whether requests are measured at all (metrics, access log or spans on).
    let measures: Bool
    /// The request in flight's measurements, counted into `meters` when it ends.
    var measure = RequestMeasure()
    let options: ProxyOptions
    let timeouts: ClientTimeouts?
    let health: TargetHealth
    /// For upstream failures: the client is told the code, the operator which target and why.
    let logger: Logger
    var context: ChannelHandlerContext?
    /// Where the connection is in its life: the request in flight, a body being dropped, closing.
    var client = ClientConnection<Exchange, PendingAuthentication>()
    var exchange: Exchange? { client.exchange }
    /// Reads the client's requests from its bytes.
    var parser: RequestParser
    /// The client's bytes the parser has not taken: a request sent before the one in flight was
    /// answered (HTTP pipelining), or what follows a head whose authentication waits, stays here
    /// unparsed until its turn. Nil when empty, so that the receive buffer can be reused.
    var unparsed: ByteBuffer?
    var timer: Scheduled<Void>?
    /// Head buffers kept for the next request, one each way (`SpareBuffer`).
    var spareRequestHead = SpareBuffer()
    var spareResponseHead = SpareBuffer()
    /// Response bytes were written since the last flush (an empty flush still costs a trip
    /// through the channel).
    var responseUnflushed = false
    /// Whether `timer` is the read-timeout check, which `readDeadline` can push back.
    var timerChecksReads = false
    var readDeadline: NIODeadline?
    var clientIP = ""
    private var localPort = ""
    /// The client connection is TLS (the TLS listener's).
    let secure: Bool
    /// Whether the peer is a trusted proxy: decided once per connection.
    private var trustedPeer = false

    init(
        active: ActiveConfig, pool: UpstreamConnectionPool, meters: LoopMeters? = nil, accessLog: LoopAccessLog? = nil, tracer: SpanExporter? = nil,
        options: ProxyOptions, health: TargetHealth, timeouts: ClientTimeouts? = nil, secure: Bool = false, logger: Logger
    ) {
        self.secure = secure
        self.active = active
        self.meters = meters
        self.accessLog = accessLog
        self.tracer = tracer
        measures = meters != nil || accessLog != nil || tracer != nil
        self.logger = logger
        self.pool = pool
        self.options = options
        self.health = health
        self.timeouts = timeouts
        parser = RequestParser(limits: RequestParser.Limits(maxHeadBytes: options.maxHeaderBytes, maxFields: options.maxHeaderCount))
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
        meters?.loop.add(MeterLayout.Loop.accepted)
    }

    /// The context and this handler hold each other: let go when the pipeline drops the handler,
    /// which a WebSocket tunnel does without the channel going inactive.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        // Here, not in channelInactive: a WebSocket tunnel takes the handler out while the
        // connection lives on, and the handler never hears of its close.
        meters?.loop.add(MeterLayout.Loop.closed)
    }

    // MARK: Client side

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Dropped unread once the connection closes after its answer.
        if client.bytesArrived() == .drop { return }
        var bytes = unwrapInboundIn(data)
        if unparsed == nil {
            unparsed = bytes
        } else {
            unparsed!.writeBuffer(&bytes)
        }
        parseRequests()
    }

    /// Hands the parser's parts on while the connection can take them. Stops between requests
    /// while one is in flight, and while a head's authentication waits: what the client sent
    /// ahead stays unparsed until its turn (`answered`).
    func parseRequests() {
        while client.parsesNext(betweenRequests: parser.isBetweenRequests) {
            var bytes = unparsed ?? Self.noBytes
            unparsed = nil
            let part: RequestParser.Part?
            do {
                part = try parser.next(&bytes)
            } catch {
                return refuse(error)
            }
            if bytes.readableBytes > 0 { unparsed = bytes }
            guard let part else { return }
            handle(part)
        }
    }

    private static let noBytes = ByteBuffer()

    func handle(_ part: RequestParser.Part) {
        switch part {
        case .head(let head):
            timeouts?.headArrived()
            if measures {
                measure.begin(meters, record: accessLog == nil && tracer == nil ? nil : AccessRecord(head, client: clientIP))
            }
            measure.trace = TraceContext(head.fields, sampleRatio: tracer?.sampleRatio ?? 0) { pool.requestIDs.next() }
            begin(head)
        case .body(let buffer):
            guard case .exchange(let exchange) = client.bodyParsed() else { return }
            exchange.bodyBytes += buffer.readableBytes
            measure.received(buffer.readableBytes)
            if let limit = options.maxBodyBytes, exchange.bodyBytes > limit {
                if exchange.responseStarted { return cutShort() }
                return failBeforeResponse(.payloadTooLarge, "body_too_large", "the request body is over the limit of \(limit) bytes", close: true)
            }
            if let check = exchange.bodyCheck, let limit = check.body?.maxBytes, exchange.bodyBytes > limit {
                exchange.config.policyMetrics.invalidRequests.wrappingIncrement(ordering: .relaxed)
                measure.record?.policy = check.name
                return failBeforeResponse(
                    .payloadTooLarge, "body_too_large", "policy '\(check.name)' checks bodies of up to \(limit) bytes", close: true)
            }
            if let connection = exchange.connection {
                exchange.bodyForwarded = true
                connection.writeBody(buffer, chunked: exchange.chunked)
            } else {
                exchange.buffered.append(buffer)
            }
        case .end:
            // Trailers are not forwarded (the parser held them to the field limit).
            timeouts?.requestEnded()
            guard case .exchange(let exchange) = client.endParsed() else { return }
            exchange.requestEnded = true
            if exchange.awaitingBodyCheck { return checkHeldBody(exchange) }
            if let connection = exchange.connection {
                connection.writeEnd(chunked: exchange.chunked)
                connection.flush()
                armReadTimeout()
            }
        }
    }

    /// The parser refused the client's bytes: 400 (431, 505, 405) and the connection closes,
    /// since where its next request would start is unknown; a response already under way is
    /// not interrupted, the connection just closes.
    private func refuse(_ error: RequestParseError) {
        let refusal = RequestRules.refusal(error)
        switch client.parseFailed() {
        case .cutShort(let exchange): return cutShort(exchange)
        case .fail(let exchange): return failBeforeResponse(refusal.status, refusal.code, refusal.message, close: true, exchange: exchange)
        case .answer: break
        }
        // A refusal before any head: measured (and logged) as a request of its own.
        if measures, !measure.isActive { measure.begin(meters, record: accessLog == nil && tracer == nil ? nil : AccessRecord(client: clientIP)) }
        writeError(refusal.status, refusal.code, refusal.message, version: .http1_1, keepAlive: false, requestID: pool.requestIDs.make())
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.connection?.flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        switch client.readRequested(unparsedBytes: unparsed?.readableBytes ?? 0, maxUnparsed: Self.maxUnparsedBytes) {
        case .read: context.read()
        // The client's silence from now on is the gateway's doing, not a stalled body.
        case .hold: timeouts?.clientReadsHeld(true)
        }
    }

    /// What the client may send ahead of the request in flight before its reads are held: a
    /// burst of small pipelined requests does not turn reading off and on (two `epoll_ctl`
    /// calls) for each, and memory stays bounded whatever the client sends.
    static let maxUnparsedBytes = 64 * 1024

    /// Reads the client again if reads were held and what held them is gone.
    func resumeClientReads() {
        guard let context, client.resumeReads() else { return }
        timeouts?.clientReadsHeld(false)
        read(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        clientIsWritable = context.channel.isWritable
        if clientIsWritable { exchange?.connection?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if measures { measure.abort(meters, accessLog, tracer) }
        cancelTimer()
        if let connection = client.ended()?.connection { pool.release(connection, reusable: false) }
        unparsed = nil
        self.context = nil
        clientIsWritable = false
        context.fireChannelInactive()
    }

    private func begin(_ head: RequestHead) {
        if let refusal = RequestRules.check(head, options: options) {
            return respondLocally(head, refusal.status, refusal.code, refusal.message, close: true)
        }
        let target: RequestTarget
        do {
            target = try RequestTarget(head.target)
        } catch {
            return respondLocally(head, .badRequest, "bad_request", "invalid request target: \(error)", close: true)
        }
        guard let config = active.load() else {
            return respondLocally(head, .serviceUnavailable, "not_ready", "no config has been applied yet")
        }
        let hostHeader = target.authority ?? head.fields.first(name: "host") ?? ""
        let host = RequestTarget.routingHost(hostHeader)
        let method = head.method.rawValue
        let path = target.path
        if Self.isPreflight(head), let requested = head.fields.first(name: "access-control-request-method"),
            let preflightRoute = config.routes.match(host: host, path: path, method: requested, header: { head.fields[name: $0] })?.entry.route,
            let cors = preflightRoute.policies?.cors
        {
            measure.routed(preflightRoute)
            return answerPreflight(head, cors, metrics: config.policyMetrics)
        }
        guard let found = config.routes.match(host: host, path: path, method: method, header: { head.fields[name: $0] }) else {
            return respondLocally(head, .notFound, "no_route", "no route matches \(method) \(path)")
        }
        let route = found.entry.route
        measure.routed(route)
        if route.httpsRedirect, !secure { return redirectToHTTPS(head, host: host, path: path, query: target.query) }
        var request = Admission(
            head: head, config: config, found: found, hostHeader: hostHeader, path: path, targetQuery: target.query, query: target.query,
            trusted: trustedPeer)
        if secure, let hsts = route.hsts { request.addedHeaders.append(hsts) }
        if let chain = route.policies {
            if let cors = chain.cors { request.addedHeaders += cors.actualHeaders(origin: head.fields.first(name: "origin")) }
            if let restriction = chain.ipRestriction {
                // The address rate limits count by: the peer, or what a trusted proxy forwarded.
                let address = limitClientIP(head.fields, peer: clientIP, trusted: request.trusted)
                guard restrict(head, restriction, address: address, answerHeaders: request.addedHeaders, metrics: config.policyMetrics) else { return }
            }
        }
        admit(request)
    }

    /// What a routed request carries from its head to its admission: kept while its
    /// authentication waits for an authorization server.
    struct Admission {
        let head: RequestHead
        let config: CompiledConfig
        let found: PathTrie.Match
        let hostHeader: String
        let path: String
        /// The query as the client sent it (validation checks it); `query` loses a credential
        /// authentication hides.
        let targetQuery: Substring?
        var query: Substring?
        let trusted: Bool
        /// Headers policies add to the answer, whoever gives it (CORS).
        var addedHeaders: [(String, String)] = []
        var route: CompiledRoute { found.entry.route }
    }

    /// A request whose authentication waits for an authorization server's answer. A class: the
    /// answer resumes the request only if it is still the one waiting (`pendingAuthentication`).
    final class PendingAuthentication {
        let request: Admission
        init(_ request: Admission) { self.request = request }
    }

    /// Authenticates, authorizes and validates a routed request, then builds what goes upstream
    /// and counts it with the limits. Where a token must be introspected or a password checked,
    /// the request waits (its later parts are held) and this runs again with the answer.
    func admit(_ admission: Admission, answers: AuthenticationAnswers = AuthenticationAnswers()) {
        var request = admission
        let (head, config, found, route, hostHeader, path, trusted) =
            (request.head, request.config, request.found, request.route, request.hostHeader, request.path, request.trusted)
        let forwardedPath = UpstreamPath.forwarded(path, route: route, match: found)
        var consumer: Caller?
        var bodyCheck: RequestValidationPolicy?
        if let chain = route.policies {
            if chain.authenticates {
                switch authenticate(head, chain, query: &request.query, answerHeaders: request.addedHeaders, metrics: config.policyMetrics, answers: answers)
                {
                case .answered: return
                case .caller(let caller):
                    consumer = caller
                    measure.identified(caller.consumer)
                case .wait(let wait): return self.wait(for: wait, request, answers)
                }
            }
            if let acl = chain.acl {
                guard authorize(head, acl, consumer: consumer?.consumer, answerHeaders: request.addedHeaders, metrics: config.policyMetrics) else {
                    return
                }
            }
            if let validation = chain.validation {
                guard
                    let holds = validate(
                        head, validation, query: request.targetQuery, match: found, answerHeaders: request.addedHeaders, metrics: config.policyMetrics)
                else { return }
                if holds { bodyCheck = validation }
            }
        }
        var query = request.query
        let addedHeaders = request.addedHeaders
        let requestTransform = route.policies?.requestTransform
        let responseTransform = route.policies?.responseTransform
        let transformContext =
            requestTransform != nil || responseTransform != nil
            ? TransformContext(consumer: consumer?.consumer, routeName: route.name, captures: found.captures) : nil
        var renamed: [String] = []
        if let requestTransform, let transformContext {
            let metrics = config.policyMetrics
            metrics.count(.requestTransformer, .applied)
            query = requestTransform.transformQuery(query, context: transformContext) { metrics.count(.requestTransformer, $0) }
            renamed = requestTransform.renameTargets(head.fields, hidden: route.policies?.hiddenKeys ?? [])
        }
        var upstreamHead = UpstreamRequestHead(method: head.method, path: forwardedPath, query: query, spare: &spareRequestHead)
        upstreamHead.copyEndToEnd(
            head.fields, dropping: route.policies?.dropped(trusted: trusted) ?? (trusted ? Self.replacedWhenTrusted : Self.replacedWithHost),
            alsoDropping: renamed.isEmpty ? nil : FieldNameSet(renamed), keepingUnderscores: options.allowsUnderscoreHeaders)
        if let consumer { Self.addConsumer(consumer, to: &upstreamHead) }
        if let acl = route.policies?.acl, !acl.hideGroupsHeader, let groups = consumer?.consumer?.groupsHeader, !groups.isEmpty {
            upstreamHead.add(ACLPolicy.groupsHeader, groups)
        }
        if let requestTransform, let transformContext {
            let metrics = config.policyMetrics
            requestTransform.apply(
                to: &upstreamHead, request: head.fields, renamed: renamed, hidden: route.policies?.hiddenKeys ?? [], context: transformContext
            ) {
                metrics.count(.requestTransformer, $0)
            }
        }
        let chunked = head.framing == .chunked
        if chunked {
            upstreamHead.add("transfer-encoding", "chunked")
        } else if head.method.hasRequestBodyExpected, !head.fields.contains(name: "content-length") {
            upstreamHead.add("content-length", "0")
        }
        let upgradeRequested = head.upgrade
        let websocket = upgradeRequested && head.method == .GET && head.fields[elements: "upgrade"].contains { $0.lowercased() == "websocket" }
        if websocket {
            // Hop-by-hop, so left out above; a WebSocket upgrade is forwarded on purpose (h2c never is).
            upstreamHead.add("upgrade", "websocket")
            upstreamHead.add("connection", "upgrade")
        }
        ForwardedRequest.addForwarding(to: &upstreamHead, from: head.fields, clientIP: clientIP, host: hostHeader, port: localPort, secure: secure, trusted: trusted)
        ForwardedRequest.addVia(to: &upstreamHead, from: head.fields, version: head.version)
        if let trace = measure.trace {
            upstreamHead.add(trace)
            // The caller's vendor state goes on with its valid traceparent only.
            if trace.parent != nil { for state in head.fields[name: "tracestate"] { upstreamHead.add("tracestate", state) } }
        }
        // The client's id went with its other fields.
        let requestID = head.fields.first(name: "x-request-id").map(RequestID.given) ?? pool.requestIDs.draw()
        if case .drawn(let high, let low) = requestID { upstreamHead.add(drawn: high, low) }
        measure.record?.requestID = requestID
        let preserveHost = route.preserveHost && !hostHeader.isEmpty
        if preserveHost { upstreamHead.add("host", hostHeader) }

        let key = Balancer.RequestKey(clientIP: clientIP, path: path, headers: head.fields)
        let exchange = Exchange(
            config: config, upstream: config.upstreams[route.upstream], head: (consume upstreamHead).finished(), method: head.method,
            chunked: chunked, clientVersion: head.version,
            clientKeepAlive: head.isKeepAlive, requestID: requestID,
            idempotent: Self.idempotentMethods.contains(head.method), balancerKey: key,
            preserveHost: preserveHost, websocket: websocket, upgradeRequested: upgradeRequested
        )
        exchange.expectsContinue = Self.awaitsContinue(head)
        client.exchangeStarted(exchange)
        exchange.addedHeaders = addedHeaders
        exchange.replacesHSTS = secure && route.hsts != nil
        guard let chain = route.policies else { return proceed(exchange) }
        if bodyCheck != nil {
            exchange.bodyCheck = bodyCheck
            resumeClientReads()
        }
        exchange.replacesCORS = chain.cors != nil
        exchange.replacesLimits = !chain.limits.isEmpty || !chain.consumerLimits.isEmpty
        if let responseTransform, let transformContext {
            let metrics = config.policyMetrics
            exchange.responseTransform = responseTransform
            exchange.responseValues = responseTransform.values(transformContext) { metrics.count(.responseTransformer, $0) }
        }
        let limits = chain.limits(for: consumer?.consumer)
        if limits.isEmpty { return proceed(exchange) }
        let subject = LimitSubject(
            consumer: consumer?.identified == true ? consumer?.consumer : nil,
            clientIP: limitClientIP(head.fields, peer: clientIP, trusted: trusted), routeID: route.id,
            headers: head.fields)
        runLimits(exchange, limits, from: 0, subject, metrics: config.policyMetrics)
    }

    /// Sends the request upstream once every policy let it through.
    func proceed(_ exchange: Exchange) {
        // The gateway answers `Expect: 100-continue` itself once the request is routed and within
        // its limits (it was stripped from what goes upstream): the client sends its body then.
        if exchange.expectsContinue {
            writeHead(HTTPResponseHead(version: exchange.clientVersion, status: .continue), flush: true)
            // Told to go on: the body comes, and a later refusal can read it to its end.
            exchange.expectsContinue = false
        }
        if exchange.bodyCheck != nil {
            guard exchange.requestEnded else {
                exchange.awaitingBodyCheck = true
                return
            }
            return checkHeldBody(exchange)
        }
        connect(excluding: [])
    }

    static let replacedWithHost = FieldNameSet(ForwardedRequest.replacedForwarding + ["host", "expect", "via"] + traceFields)
    static let replacedWhenTrusted = FieldNameSet(ForwardedRequest.rewritten + ["host", "expect"] + traceFields)
    /// Written again by the gateway, whose span is the upstream's parent.
    static let traceFields = ["traceparent", "tracestate"]
    private static let idempotentMethods: [HTTPMethod] = [.GET, .HEAD, .OPTIONS, .PUT, .DELETE]
}

extension HTTPMethod {
    /// Methods whose requests normally carry a body, so an absent body is sent as `Content-Length: 0`.
    var hasRequestBodyExpected: Bool { self == .POST || self == .PUT || self == .PATCH }
}
