import NIOCore
import NIOHTTP1

/// What the client connection itself needs: requests sent ahead (HTTP pipelining), a drain's
/// request to close, and answers to HTTP the parser refused. Handled here rather than by NIO's
/// pipelining handler, which holds every read until the response is written, so that each
/// request cost two `epoll_ctl` calls; here reads stop only once `PipelinedRequests` is full.
extension ProxyHandler {
    /// The request in flight is answered: go on with one the client sent ahead, unless the
    /// connection closes.
    func answered(closing: Bool) {
        if closing {
            pipelined.removeAll()
            return
        }
        while let part = pipelined.first {
            // The next request begun, or waits for its authentication: the rest waits its turn.
            if pendingAuthentication != nil || (exchange != nil && part.isHead) { break }
            pipelined.removeFirst()
            handle(part)
        }
        // Body parts taken from the queue went to the upstream unflushed, and no read of the
        // client's (whose end flushes them) may come while its reads are held for them.
        exchange?.connection?.flush()
        resumeClientReads()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ClientTimeouts.BodyTimedOut { return bodyStalled(context) }
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        // Between requests the connection closes now; otherwise after the answer in flight.
        quiescing = true
        if exchange == nil, pendingAuthentication == nil { context.close(promise: nil) }
    }

    /// The client stopped sending its request body: 408 if nothing was answered yet, else the
    /// connection closes (and the upstream connection, holding part of a request, with it).
    private func bodyStalled(_ context: ChannelHandlerContext) {
        guard let exchange, !exchange.responseStarted else {
            if let connection = exchange?.connection { pool.release(connection, reusable: false) }
            self.exchange = nil
            return cutShort()
        }
        failBeforeResponse(
            .requestTimeout, "request_timeout", "the request body stalled: no byte came for \(options.bodyTimeout.nanoseconds / 1_000_000) ms",
            close: true)
    }

    /// Malformed, ambiguous or oversized requests get 400 (431 for headers) and the connection
    /// closes; a response already under way is not interrupted, the connection just closes.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // After the first refusal the parser only reports that it stopped: the answer is on its way.
        if lingering || framingLost { return }
        guard let parserError = error as? HTTPParserError else { return context.close(promise: nil) }
        // The client closed in the middle of a request: nobody is left to answer.
        if parserError == .invalidEOFState {
            if measures { measure.abort(meters, accessLog, tracer) }
            pendingAuthentication = nil
            return context.close(promise: nil)
        }
        let (status, code, message): (HTTPResponseStatus, String, String) =
            switch parserError {
            case .headerOverflow: (.requestHeaderFieldsTooLarge, "headers_too_large", "the request headers are too large")
            // The parser stops at HTTP/2's connection preface (`PRI * HTTP/2.0`).
            case .paused: (.httpVersionNotSupported, "http_version_not_supported", "HTTP/2 with prior knowledge is not supported: use HTTP/1.1")
            default: (.badRequest, "bad_request", "malformed HTTP request: \(parserError)")
            }
        pipelined.removeAll()
        framingLost = true
        // A request waiting for its token's check is not answered twice.
        pendingAuthentication = nil
        if let exchange {
            if exchange.responseStarted { return context.close(promise: nil) }
            return failBeforeResponse(status, code, message, close: true)
        }
        // A refusal before any head: measured (and logged) as a request of its own.
        if measures, !measure.isActive { measure.begin(meters, record: accessLog == nil && tracer == nil ? nil : AccessRecord(client: clientIP)) }
        writeError(status, code, message, version: .http1_1, keepAlive: false, requestID: pool.requestIDs.make())
    }

    /// Closes the client connection after the answer just written: at once when the request was
    /// read whole; else its output is shut and it lingers (`ClientTimeouts.linger`), because
    /// closing on unread bytes makes the kernel reset the connection, which discards the answer
    /// (413, 400) before the client reads it. nginx's `lingering_close` does the same.
    func closeAfterResponse() {
        guard let context else { return }
        guard discardingBody || framingLost, context.channel.isActive, let timeouts else { return context.close(promise: nil) }
        lingering = true
        // What still comes is dropped unparsed.
        context.pipeline.syncOperations.removeIfPresent(ByteToMessageHandler<HTTPRequestDecoder>.self)
        // A channel that cannot shut its output alone (TLS) closes whole.
        context.close(mode: .output).assumeIsolated().whenFailure { _ in context.close(promise: nil) }
        timeouts.linger()
        resumeClientReads()
    }
}

extension HTTPServerRequestPart {
    var isHead: Bool {
        if case .head = self { return true }
        return false
    }
}
