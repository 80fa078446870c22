import NIOCore
import NIOHTTP1

/// What the client connection itself needs: requests sent ahead (HTTP pipelining), a drain's
/// request to close, and closing after an answer. Requests sent ahead stay unparsed until the
/// one in flight is answered, and reads stop only once `maxUnparsedBytes` of them wait (NIO's
/// pipelining handler held every read until the response was written: two `epoll_ctl` calls
/// per request).
extension ProxyHandler {
    /// The request in flight is answered: go on with one the client sent ahead, unless the
    /// connection closes.
    func answered(closing: Bool) {
        if closing {
            unparsed = nil
            return
        }
        parseRequests()
        // Body parts parsed here went to the upstream unflushed, and no read of the client's
        // (whose end flushes them) may come while its reads are held for them.
        exchange?.connection?.flush()
        resumeClientReads()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ClientTimeouts.BodyTimedOut { return bodyStalled(context) }
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        // Between requests the connection closes now; otherwise after the answer in flight.
        if client.quiesce() == .close { context.close(promise: nil) }
    }

    /// The client stopped sending its request body: 408 if nothing was answered yet, else the
    /// connection closes (and the upstream connection, holding part of a request, with it).
    private func bodyStalled(_ context: ChannelHandlerContext) {
        guard let exchange, !exchange.responseStarted else { return cutShort() }
        failBeforeResponse(
            .requestTimeout, "request_timeout", "the request body stalled: no byte came for \(options.bodyTimeout.nanoseconds / 1_000_000) ms",
            close: true)
    }

    /// Errors of the handlers before this one (TLS, the socket): the connection closes.
    /// Requests the parser refuses are answered where they are parsed (`refuse`).
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Closes the client connection after the answer just written: at once when the request was
    /// read whole; else its output is shut and it lingers (`ClientTimeouts.linger`), because
    /// closing on unread bytes makes the kernel reset the connection, which discards the answer
    /// (413, 400) before the client reads it. nginx's `lingering_close` does the same.
    func closeAfterResponse() {
        guard let context else { return }
        guard client.answerFlushed(canLinger: context.channel.isActive && timeouts != nil) == .linger, let timeouts else {
            return context.close(promise: nil)
        }
        // What still comes is dropped unparsed.
        unparsed = nil
        // A channel that cannot shut its output alone (TLS) closes whole.
        context.close(mode: .output).assumeIsolated().whenFailure { _ in context.close(promise: nil) }
        timeouts.linger()
        resumeClientReads()
    }
}
