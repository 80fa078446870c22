import GatehouseHTTP1
import NIOCore
import NIOHTTP1

/// Answers the gateway makes itself, and the timers that lead to some of them.
extension ProxyHandler {
    /// - Parameters:
    ///   - headers: added to the policies' own headers (`Retry-After`, say).
    ///   - given: the request answered, when it is no longer the one in flight (a refusal of the
    ///     client's bytes took it out).
    func failBeforeResponse(
        _ status: HTTPResponseStatus, _ code: String, _ message: String, close: Bool = false, headers: [(String, String)] = [],
        fields: [(String, String)] = [], exchange given: Exchange? = nil
    ) {
        guard let exchange = given ?? exchange else { return }
        cancelTimer()
        if let connection = exchange.connection { pool.release(connection, reusable: false) }
        _ = client.exchangeEnded(requestEnded: exchange.requestEnded)
        // No HTTP follows an upgrade request; a body the client was never told to send may never
        // come (`awaitsContinue`).
        let keepAlive = exchange.clientKeepAlive && !close && !client.quiescing && !exchange.upgradeRequested && !exchange.expectsContinue
        writeError(
            status, code, message, version: exchange.clientVersion, keepAlive: keepAlive, requestID: exchange.requestID.text,
            headers: exchange.addedHeaders + headers, fields: fields, bodiless: exchange.method == .HEAD
        )
        answered(closing: !keepAlive)
    }

    func respondLocally(
        _ head: RequestHead, _ status: HTTPResponseStatus, _ code: String, _ message: String, close: Bool = false,
        headers: [(String, String)] = [], fields: [(String, String)] = []
    ) {
        client.answeredLocally()
        let requestID = head.fields.first(name: "x-request-id") ?? pool.requestIDs.make()
        writeError(
            status, code, message, version: head.version, keepAlive: !close && keepsConnection(after: head), requestID: requestID, headers: headers,
            fields: fields, bodiless: head.method == .HEAD)
    }

    /// Whether the client's connection carries another request after the gateway's own answer
    /// to `head`: not after an upgrade request (the parser reads no HTTP behind one), not during
    /// a drain, and not when the request's body was never asked for (`awaitsContinue`).
    func keepsConnection(after head: RequestHead) -> Bool {
        head.isKeepAlive && !head.upgrade && !client.quiescing && !Self.awaitsContinue(head)
    }

    /// A request with `Expect: 100-continue` and a body, not yet told to go on. Answered now, it
    /// may never send that body (RFC 9110 §10.1.1): reading on would take the client's next
    /// request for it, so the connection closes after the answer instead.
    static func awaitsContinue(_ head: RequestHead) -> Bool {
        head.framing != .length(0) && head.version.minor >= 1 && head.fields[elements: "expect"].contains { $0.lowercased() == "100-continue" }
    }

    /// - Parameter bodiless: the request was HEAD: the head says what the body would be, and
    ///   none follows.
    func writeError(
        _ status: HTTPResponseStatus, _ code: String, _ message: String, version: HTTPVersion, keepAlive: Bool, requestID: String,
        headers: [(String, String)] = [], fields: [(String, String)] = [], bodiless: Bool = false
    ) {
        guard let context else { return }
        if measure.record != nil {
            measure.record?.error = code
            if measure.record?.requestID == nil { measure.record?.requestID = .given(requestID) }
        }
        let body = ProxyError.body(code: code, message: message, fields: fields, allocator: context.channel.allocator)
        var head = HTTPResponseHead(version: version, status: status)
        head.headers.add(name: "content-type", value: "application/json")
        head.headers.add(name: "content-length", value: String(body.readableBytes))
        head.headers.add(name: "x-request-id", value: requestID)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if !keepAlive { head.headers.add(name: "connection", value: "close") }
        writeHead(head, flush: false)
        if !bodiless {
            measure.sent(body.readableBytes)
            context.write(wrapOutboundOut(.byteBuffer(body)), promise: nil)
        }
        writeEnd(closeAfter: !keepAlive)
    }

    /// Writes a head the gateway made.
    func writeHead(_ head: HTTPResponseHead, flush: Bool) {
        guard let context else { return }
        var bytes = context.channel.allocator.buffer(capacity: 256)
        bytes.writeResponseHead(head)
        // An interim `100 Continue` is not the answer.
        if head.status.code >= 200 { measure.answered(status: Int(head.status.code), source: .gateway) }
        measure.sent(bytes.readableBytes)
        if flush {
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
        } else {
            context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
        }
    }

    /// The response is written: sends it, and closes the connection after it when asked.
    func writeEnd(closeAfter: Bool) {
        guard let context else { return }
        timeouts?.responseFinished()
        if measures { measure.finish(meters, accessLog, tracer) }
        responseUnflushed = false
        client.answerWritten(closing: closeAfter)
        if closeAfter {
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(ByteBuffer()))).assumeIsolated().whenComplete { _ in
                self.closeAfterResponse()
            }
        } else {
            context.flush()
        }
    }

    /// A response under way cannot be finished: what was written goes out, then the connection
    /// closes, the only honest signal left to the client that the response is incomplete.
    /// `exchange`: the request whose response it is, when it is no longer the one in flight.
    func cutShort(_ exchange: Exchange? = nil) {
        if let exchange = client.ended() ?? exchange {
            if let connection = exchange.connection { pool.release(connection, reusable: false) }
            writeHeldHead(exchange)
        }
        if measures { measure.abort(meters, accessLog, tracer) }
        responseUnflushed = false
        context?.flush()
        context?.close(promise: nil)
    }

    /// Restarts the read timeout. Called for every upstream read, so it only moves a deadline;
    /// the one scheduled check pushes itself back until the deadline has really passed.
    func armReadTimeout() {
        guard let exchange else { return }
        readDeadline = .now() + exchange.upstream.readTimeout
        if timer != nil, timerChecksReads { return }
        scheduleReadCheck(after: exchange.upstream.readTimeout)
    }

    /// Between requests: the read check stays scheduled, with no deadline to find, so the next
    /// request only moves a deadline instead of scheduling (and this one cancelling) a task.
    func disarmReadTimeout() {
        if timer != nil, timerChecksReads {
            readDeadline = nil
        } else {
            cancelTimer()
        }
    }

    private func scheduleReadCheck(after delay: TimeAmount) {
        schedule(after: delay) { handler in handler.checkReadDeadline() }
        timerChecksReads = true
    }

    private func checkReadDeadline() {
        guard let exchange, let deadline = readDeadline else { return }
        let now = NIODeadline.now()
        if now < deadline { return scheduleReadCheck(after: deadline - now) }
        timedOut("upstream '\(exchange.upstream.name)' did not answer in time")
    }

    func timedOut(_ message: String) {
        guard let exchange else { return }
        if exchange.responseStarted {
            logUpstreamFailure(exchange, "upstream_timeout", message + " after its response had started")
            cutShort()
        } else {
            recordFailure(exchange, .timeout)
            if retryElsewhere() { return }
            failUpstream(.gatewayTimeout, "upstream_timeout", message)
        }
    }

    func schedule(after delay: TimeAmount, _ action: @escaping (ProxyHandler) -> Void) {
        cancelTimer()
        timerChecksReads = false
        timer = pool.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            timer = nil
            action(self)
        }
    }

    func cancelTimer() {
        timer?.cancel()
        timer = nil
    }
}

extension ProxyHandler {
    /// A route that is served over TLS only, reached over plain HTTP: `308` keeps the method and
    /// body on the way to the same path and query on https (the TLS listener's port, left out
    /// when it is 443).
    func redirectToHTTPS(_ head: RequestHead, host: String, path: String, query: Substring?) {
        guard !host.isEmpty else {
            return respondLocally(head, .badRequest, "https_required", "this route is served over https only; the request names no host to send it to")
        }
        let location = Self.httpsLocation(host: host, port: options.httpsPort(), path: path, query: query)
        respondLocally(
            head, .permanentRedirect, "https_required", "this route is served over https only: \(location)", headers: [("location", location)])
    }

    /// The https URL of the same host, path and query: the port left out when it is 443, an IPv6
    /// address in brackets (as the routing host already has it from `Host: [::1]:80`, or bare).
    static func httpsLocation(host: String, port: Int?, path: String, query: Substring?) -> String {
        let authority = host.utf8.first != UInt8(ascii: "[") && host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host
        let port = port.map { $0 == 443 ? "" : ":\($0)" } ?? ""
        return "https://\(authority)\(port)\(path)\(query.map { "?\($0)" } ?? "")"
    }
}
