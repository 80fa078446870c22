import NIOCore

/// What an upstream connection reports to the request currently using it. Called on the event
/// loop that owns both the client and the upstream channel.
protocol UpstreamConnectionDelegate: AnyObject {
    var clientIsWritable: Bool { get }
    /// A response head; an informational (1xx) one is followed by another head.
    func upstreamResponseHead(_ head: UpstreamResponseHead, body: UpstreamConnection.ResponseBody)
    /// Body bytes as they arrived: a chunked body with its framing unless `passesChunkFraming`
    /// was turned off.
    func upstreamResponseBody(_ bytes: ByteBuffer)
    func upstreamResponseEnd()
    /// A 101 head went before; `leftover` are the first bytes of the new protocol.
    func upstreamSwitchedProtocols(leftover: ByteBuffer)
    func upstreamReadComplete()
    func upstreamFailed(_ error: any Error)
    func upstreamWritabilityChanged(isWritable: Bool)
}

/// One keep-alive HTTP/1.1 connection to a target, owned by its event loop's
/// `UpstreamConnectionPool`. It is the last handler of its channel, and speaks HTTP/1.1 as bytes:
/// request heads come written (`UpstreamRequestHead`), responses are framed here from the raw
/// bytes (`UpstreamResponseHead`, `ChunkedBody`) so they can be passed on as they came. It hands responses to the
/// request using it and stops reading while that request's client cannot take more bytes.
final class UpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// How a response's body is delimited (RFC 9112 §6.3).
    enum ResponseBody: Equatable {
        /// HEAD, 1xx, 204, 304, or `Content-Length: 0`.
        case none
        case length(Int)
        case chunked
        /// Neither length nor chunked: the body ends when the upstream closes.
        case untilClose
    }

    /// Where the response in flight has got, as a value.
    private enum Reading {
        case idle
        case head
        case length(remaining: Int)
        case chunked(ChunkedBody)
        case untilClose
        case switched
    }

    let key: String
    /// Strong, and cleared whenever the connection is given back, detached, failed or closed:
    /// a weak reference would move the proxy handler's reference count to a side table, and
    /// every retain and release of it (dozens per request) would take the runtime's slow path.
    var delegate: (any UpstreamConnectionDelegate)?
    /// Set by the pool; told when the channel closes so an idle connection leaves the pool.
    var onClose: ((UpstreamConnection) -> Void)?
    /// While idle in the pool: when it is closed unless borrowed again.
    var idleUntil: NIODeadline?
    /// Whether a chunked body goes to the delegate with its framing (false for HTTP/1.0 clients,
    /// which cannot read it).
    var passesChunkFraming = true
    /// Response fields with `_` in their names are passed on (`--allow-underscore-headers`).
    let keepsUnderscoreFields: Bool
    private let metrics: EdgeMetrics
    private(set) var isOpen = true
    /// False once the upstream sent bytes beyond a response's framing: whatever they are, they
    /// would be read as the next request's response, so the connection is never lent again.
    private(set) var isReusable = true
    /// Informational heads of the response in flight; past `maxInformational` it is refused.
    private var informational = 0
    private var context: ChannelHandlerContext?
    private var readPending = false
    /// Something was written since the last flush: a flush with nothing to send still costs a
    /// trip through the channel, and a request asks for up to three.
    private var unflushed = false
    private var reading = Reading.idle
    private var requestIsHEAD = false
    /// The start of a head that has not all arrived, and how far it was searched for its end.
    private var partialHead: ByteBuffer?
    private var headSearchedTo = 0
    /// The fields of the last head, kept for their capacity.
    private var fields: [UpstreamResponseHead.Field] = []

    init(key: String, keepsUnderscoreFields: Bool = false, metrics: EdgeMetrics = EdgeMetrics()) {
        self.key = key
        self.keepsUnderscoreFields = keepsUnderscoreFields
        self.metrics = metrics
    }

    /// More 1xx heads than any real exchange needs (a 100 Continue, a few 103 Early Hints)
    /// before the final one: an upstream sending more is refused rather than relayed forever.
    static let maxInformational = 16

    /// Kept from writability events: asked on every client read.
    private(set) var isWritable = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        isWritable = context.channel.isWritable
    }

    /// The context holds this handler and this handler the context: the pair is let go here,
    /// which also happens to a channel whose connect failed (it is closed without ever having
    /// been active, so `channelInactive` never comes).
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        onClose = nil
    }

    /// Starts a request with its whole head. Nothing is flushed until `flush`.
    func writeHead(_ head: ByteBuffer, isHEAD: Bool) {
        guard let context else { return }
        requestIsHEAD = isHEAD
        reading = .head
        informational = 0
        partialHead = nil
        headSearchedTo = 0
        passesChunkFraming = true
        unflushed = true
        context.write(wrapOutboundOut(.byteBuffer(head)), promise: nil)
    }

    /// Body bytes as the client's HTTP parser handed them over: a chunked body is framed again.
    func writeBody(_ bytes: ByteBuffer, chunked: Bool) {
        guard let context, bytes.readableBytes > 0 else { return }
        unflushed = true
        if chunked {
            context.writeChunk(bytes)
        } else {
            context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
        }
    }

    func writeEnd(chunked: Bool) {
        guard chunked, let context else { return }
        unflushed = true
        context.write(wrapOutboundOut(.byteBuffer(ByteBuffer.lastChunk)), promise: nil)
    }

    func flush() {
        guard unflushed, let context else { return }
        unflushed = false
        context.flush()
    }

    var channel: (any Channel)? { context?.channel }

    func close() {
        guard isOpen else { return }
        isOpen = false
        delegate = nil
        context?.close(promise: nil)
    }

    /// Reads again after the client drained what it was sent.
    func resumeReading() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    func read(context: ChannelHandlerContext) {
        if let delegate, !delegate.clientIsWritable {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if var partial = partialHead.take() {
            partial.writeBuffer(&buffer)
            buffer = partial
        }
        do {
            try frame(&buffer)
        } catch {
            fail(error)
        }
    }

    /// Hands the response parts in `buffer` to the delegate, as far as they go.
    private func frame(_ buffer: inout ByteBuffer) throws(UpstreamResponseError) {
        while buffer.readableBytes > 0 {
            // Bytes with no request waiting for them: the server is confused, or answering a
            // request it was never sent.
            guard let delegate else { return closeForExcessBytes() }
            switch reading {
            case .idle:
                return closeForExcessBytes()
            case .switched:
                return close()
            case .head:
                // A head in pieces is searched for its end from where the last piece ended, and
                // parsed once whole: a server dripping bytes costs a scan of each byte, not one
                // of the whole head per piece. A first piece is parsed at once (the parser finds
                // an incomplete head as well), so a head that came whole is read once, not twice.
                guard headSearchedTo == 0 || UpstreamResponseHead.isComplete(buffer, from: headSearchedTo),
                    let (head, length) = try UpstreamResponseHead.parse(buffer, fields: &fields, keepsUnderscores: keepsUnderscoreFields)
                else {
                    if buffer.readableBytes > UpstreamResponseHead.maxBytes { throw .headTooLarge }
                    headSearchedTo = max(0, buffer.readableBytes - 2)
                    partialHead = buffer
                    return
                }
                headSearchedTo = 0
                buffer.moveReaderIndex(forwardBy: length)
                if head.status == 101 {
                    reading = .switched
                    delegate.upstreamResponseHead(head, body: .none)
                    return delegate.upstreamSwitchedProtocols(leftover: buffer)
                }
                if head.status < 200 {
                    informational += 1
                    if informational > Self.maxInformational {
                        metrics.count(\.upstreamInformationalFlood)
                        throw .malformed("more than \(Self.maxInformational) informational (1xx) responses to one request")
                    }
                }
                let body = bodyFraming(of: head)
                switch body {
                case .none: reading = head.status < 200 ? .head : .idle
                case .length(let length): reading = .length(remaining: length)
                case .chunked: reading = .chunked(ChunkedBody())
                case .untilClose: reading = .untilClose
                }
                delegate.upstreamResponseHead(head, body: body)
                if body == .none, head.status >= 200 { return endResponse(before: buffer) }
            case .length(let remaining):
                let run = min(remaining, buffer.readableBytes)
                reading = run == remaining ? .idle : .length(remaining: remaining - run)
                delegate.upstreamResponseBody(buffer.readSlice(length: run)!)
                if run == remaining { return endResponse(before: buffer) }
            case .chunked(var chunked):
                try forwardChunks(&chunked, from: &buffer, to: delegate)
                reading = chunked.isDone ? .idle : .chunked(chunked)
                if chunked.isDone { return endResponse(before: buffer) }
            case .untilClose:
                delegate.upstreamResponseBody(buffer)
                return
            }
        }
    }

    /// The response in flight is complete; `rest` is what came after it in the same read. Any
    /// byte there answers no request (a body to a HEAD, a second response the server made up):
    /// the connection is marked so it is closed, not pooled, when the request gives it back, and
    /// those bytes are never parsed.
    private func endResponse(before rest: ByteBuffer) {
        if rest.readableBytes > 0 { refuseReuse() }
        delegate?.upstreamResponseEnd()
        if !isReusable { close() }
    }

    private func refuseReuse() {
        guard isReusable else { return }
        isReusable = false
        metrics.count(\.upstreamExcessBytes)
    }

    private func closeForExcessBytes() {
        refuseReuse()
        close()
    }

    private func bodyFraming(of head: UpstreamResponseHead) -> ResponseBody {
        if requestIsHEAD || head.status < 200 || head.status == 204 || head.status == 304 { return .none }
        if head.chunked { return .chunked }
        guard let length = head.contentLength else { return .untilClose }
        return length == 0 ? .none : .length(length)
    }

    private func forwardChunks(
        _ chunked: inout ChunkedBody, from buffer: inout ByteBuffer, to delegate: any UpstreamConnectionDelegate
    ) throws(UpstreamResponseError) {
        var data: [Range<Int>] = []
        let passesFraming = passesChunkFraming
        let taken = try buffer.withUnsafeReadableBytes { (bytes) throws(UpstreamResponseError) -> Int in
            try chunked.advance(bytes) { run in if !passesFraming { data.append(run) } }
        }
        if passesFraming {
            delegate.upstreamResponseBody(buffer.readSlice(length: taken)!)
        } else {
            let start = buffer.readerIndex
            for run in data { delegate.upstreamResponseBody(buffer.getSlice(at: start + run.lowerBound, length: run.count)!) }
            buffer.moveReaderIndex(forwardBy: taken)
        }
    }

    private func fail(_ error: any Error) {
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamFailed(error)
        close()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        isWritable = context.channel.isWritable
        delegate?.upstreamWritabilityChanged(isWritable: isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) {
        isOpen = false
        isWritable = false
        // A body delimited by the close is complete now.
        if case .untilClose = reading {
            reading = .idle
            delegate?.upstreamResponseEnd()
        }
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamFailed(ChannelError.eof)
        onClose?(self)
        onClose = nil
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
    }
}
