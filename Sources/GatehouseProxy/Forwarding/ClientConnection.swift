/// The life of one client connection as a value: which request it is on, how far that request
/// has come, and how the connection ends. `ProxyHandler` tells it what happened (bytes came, the
/// parser gave a part or refused, an answer was written, a drain began) and does what it says;
/// the combinations that can happen are its cases, not a dozen flags.
///
/// Generic over the request in flight and the request waiting for its authentication, so that
/// every transition is tested without a socket (`ClientConnectionTests`); the proxy uses it with
/// `ProxyHandler.Exchange` and `ProxyHandler.PendingAuthentication`, specialised in its module.
struct ClientConnection<Exchange: ClientExchange, Waiting: AnyObject> {
    enum State {
        /// Between requests: the next head is read when its bytes come (a head's own answer may
        /// still be under way: `discardingBody` ends here too).
        case idle
        /// A head was read and its authentication waits for an authorization server or a
        /// password check; what the client sent behind it stays unparsed.
        case authenticating(Waiting)
        /// A request on its way: policies, upstream, response.
        case exchanging(Exchange)
        /// The request was answered before its body ended: the rest of its body is read and
        /// dropped, then the next request is read.
        case discardingBody
        /// The answer written closes the connection once it is flushed; nothing more is read.
        /// `unreadInput`: the client may still be sending (a body, or bytes the parser refused),
        /// so closing at once would reset the connection and lose the answer.
        case closing(unreadInput: Bool)
        /// The output is shut; what the client still sends is dropped until it closes or its time
        /// is up (`ClientTimeouts.linger`).
        case lingering
        /// Closed, cut short, or handed to a WebSocket tunnel: nothing more happens here.
        case done
    }

    private(set) var state = State.idle
    /// A drain asked the connection to close once the request in flight is answered.
    private(set) var quiescing = false
    /// Reads of the client are held until what held them is gone (`resumeReads`).
    private(set) var readsHeld = false

    /// The request in flight.
    var exchange: Exchange? {
        if case .exchanging(let exchange) = state { return exchange }
        return nil
    }

    // MARK: Bytes and parts

    enum BytesAction: Equatable {
        /// Keep them for the parser.
        case parse
        /// The connection is closing: they are dropped unread.
        case drop
    }

    func bytesArrived() -> BytesAction {
        switch state {
        case .idle, .authenticating, .exchanging, .discardingBody: .parse
        case .closing, .lingering, .done: .drop
        }
    }

    /// Whether the parser is asked for its next part. A request sent ahead of the one in flight
    /// (HTTP pipelining), or behind one whose authentication waits, stays unparsed until its turn.
    func parsesNext(betweenRequests: Bool) -> Bool {
        switch state {
        case .idle, .discardingBody: true
        case .exchanging: !betweenRequests
        case .authenticating, .closing, .lingering, .done: false
        }
    }

    enum PartAction {
        /// The part belongs to the request in flight.
        case exchange(Exchange)
        /// Its request was answered already: the part is dropped.
        case drop
    }

    func bodyParsed() -> PartAction {
        if case .exchanging(let exchange) = state { return .exchange(exchange) }
        return .drop
    }

    /// The request's end: a body being dropped is done with, and the next request is read.
    mutating func endParsed() -> PartAction {
        switch state {
        case .exchanging(let exchange): return .exchange(exchange)
        case .discardingBody:
            state = .idle
            return .drop
        default: return .drop
        }
    }

    enum RefusalAction {
        /// No request is in flight: the gateway answers the refusal as a request of its own.
        case answer
        /// The request in flight is answered with the refusal.
        case fail(Exchange)
        /// The request in flight's response is under way: the connection is cut.
        case cutShort(Exchange)
    }

    /// The parser refused the client's bytes: where its next request would start is unknown, so
    /// the connection closes after the answer, and lingers (the client may still be sending).
    mutating func parseFailed() -> RefusalAction {
        let action: RefusalAction
        switch state {
        case .exchanging(let exchange): action = exchange.responseStarted ? .cutShort(exchange) : .fail(exchange)
        default: action = .answer
        }
        state = .closing(unreadInput: true)
        return action
    }

    // MARK: A request's course

    /// A routed request waits for its authentication.
    mutating func authenticationStarted(_ waiting: Waiting) {
        guard case .idle = state else { return }
        state = .authenticating(waiting)
    }

    /// The answer came for `waiting`. False when the request is no longer the one waiting (the
    /// client went, the connection failed or closes): the answer is dropped.
    mutating func authenticationAnswered(_ waiting: Waiting) -> Bool {
        guard case .authenticating(let current) = state, current === waiting else { return false }
        state = .idle
        return true
    }

    /// Every check of the head let the request through: it goes on its way.
    mutating func exchangeStarted(_ exchange: Exchange) {
        guard case .idle = state else { return }
        state = .exchanging(exchange)
    }

    /// The gateway answered the head itself (404, 401, a preflight, …), before any exchange: the
    /// request's body, if it has one, is dropped.
    mutating func answeredLocally() {
        guard case .idle = state else { return }
        state = .discardingBody
    }

    /// The request in flight is answered (by its upstream or the gateway). Returns it, nil when
    /// none is in flight.
    mutating func exchangeEnded(requestEnded: Bool) -> Exchange? {
        guard case .exchanging(let exchange) = state else { return nil }
        state = requestEnded ? .idle : .discardingBody
        return exchange
    }

    /// An answer was written in full; `closing`: the connection closes after it.
    mutating func answerWritten(closing: Bool) {
        guard closing else { return }
        switch state {
        case .idle: state = .closing(unreadInput: false)
        // A body being dropped, or a request still on its way (a refusal made before it was
        // routed): the client may still be sending.
        case .discardingBody, .exchanging, .authenticating: state = .closing(unreadInput: true)
        case .closing, .lingering, .done: break
        }
    }

    enum CloseAction: Equatable {
        case close
        /// Shut the output and drop what the client still sends.
        case linger
    }

    /// The closing answer is flushed. `canLinger`: the channel is still open and has the
    /// timeouts that end a linger.
    mutating func answerFlushed(canLinger: Bool) -> CloseAction {
        if case .closing(unreadInput: true) = state, canLinger {
            state = .lingering
            return .linger
        }
        state = .done
        return .close
    }

    /// The connection is cut (a response that cannot be finished), closed by the peer, or
    /// became a tunnel. Returns the request in flight, whose upstream connection is let go.
    mutating func ended() -> Exchange? {
        let exchange = exchange
        state = .done
        return exchange
    }

    enum QuiesceAction: Equatable {
        case none
        /// No request is being handled: close now.
        case close
    }

    /// A drain began: the connection closes now if no request is being handled, else after the
    /// answer in flight (whose head says `Connection: close`).
    mutating func quiesce() -> QuiesceAction {
        quiescing = true
        switch state {
        case .idle, .discardingBody: return .close
        default: return .none
        }
    }

    // MARK: Reads

    enum ReadAction: Equatable {
        case read
        /// Hold reads until `resumeReads`.
        case hold
    }

    /// The channel asks to read the client again. Reads stop while enough requests sent ahead
    /// wait their turn (`maxUnparsed`), or while the request in flight cannot take more of its
    /// body: memory stays bounded whatever the client sends.
    mutating func readRequested(unparsedBytes: Int, maxUnparsed: Int) -> ReadAction {
        switch state {
        case .closing, .lingering, .done:
            return .read
        case .exchanging(let exchange) where !exchange.takesClientBytes:
            readsHeld = true
            return .hold
        default:
            guard unparsedBytes >= maxUnparsed else { return .read }
            readsHeld = true
            return .hold
        }
    }

    /// Whether reads were held: they are not any more.
    mutating func resumeReads() -> Bool {
        defer { readsHeld = false }
        return readsHeld
    }
}

/// What `ClientConnection` needs to know of the request in flight.
protocol ClientExchange: AnyObject {
    /// Whether the client's bytes are read now: false while the request's body has nowhere to
    /// go (its upstream connection is not there yet, or cannot take more).
    var takesClientBytes: Bool { get }
    /// Whether its response has begun: it can no longer be answered otherwise.
    var responseStarted: Bool { get }
}
