import NIOCore

/// Time limits on a client connection, placed before the proxy handler (which parses): a
/// connection idle for `idleTimeout` is closed; once a request's first bytes arrive, its head
/// must be complete within `headerTimeout` (slow-header clients get 408); while its body comes,
/// no more than `bodyTimeout` may pass between two reads (`BodyTimedOut` goes to the proxy
/// handler, which answers 408 or closes). Time the proxy itself holds reads (an upstream slow
/// to take the body) does not count against the client. When the proxy closes after an answer
/// the client may still be sending to, the connection lingers: what comes is dropped until the
/// client closes, goes quiet for `lingerTimeout`, or `lingerTime` passes (`linger()`).
/// `ProxyHandler` reports when a head arrived, when the request ended, when it holds reads, when
/// its response finished, and when it lingers.
///
/// It also holds back a drain's quiesce event from a connection between requests (accepted,
/// idle after a response, or with a head partly read): closing a keep-alive connection the
/// server thinks idle races the client's next request, which would be lost (HAProxy's
/// `idle-close-on-response`). The event goes on once the next head arrives, so that request is
/// answered with `Connection: close`; a connection that stays idle for `drainIdleGrace` (a
/// fresh one that sends nothing: `headerTimeout`) is closed.
final class ClientTimeouts: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// The connection's phase, as a value; transitions return what to do.
    enum State: Equatable {
        case idle
        case readingHead
        /// The head is in, the rest of the request is still coming; `answered` once its
        /// response is finished (an upstream may answer before the body ends).
        case readingBody(answered: Bool)
        case busy
        /// Closing: the proxy shut its output and drops what the client still sends.
        case lingering
        case closed

        enum Action: Equatable {
            case none
            case startIdleTimer
            case startHeaderTimer
            case startBodyTimer
            case startLingerTimer
            case cancelTimer
        }

        mutating func bytesArrived() -> Action {
            switch self {
            case .idle:
                self = .readingHead
                return .startHeaderTimer
            case .readingBody: return .startBodyTimer
            case .lingering: return .startLingerTimer
            default: return .none
            }
        }

        mutating func headArrived() -> Action {
            guard self != .closed, self != .lingering else { return .none }
            self = .readingBody(answered: false)
            return .startBodyTimer
        }

        mutating func requestEnded() -> Action {
            guard case .readingBody(let answered) = self else { return .none }
            self = answered ? .idle : .busy
            return answered ? .startIdleTimer : .cancelTimer
        }

        mutating func responseFinished() -> Action {
            switch self {
            case .busy:
                self = .idle
                return .startIdleTimer
            case .readingBody:
                self = .readingBody(answered: true)
                return .none
            default: return .none
            }
        }
    }

    /// Sent down the pipeline when a request body stalled for `bodyTimeout`.
    struct BodyTimedOut {}

    private let headerTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private let bodyTimeout: TimeAmount
    private let lingerTimeout: TimeAmount
    private let lingerTime: TimeAmount
    private let drainIdleGrace: TimeAmount
    /// While lingering: when the client's time is up, however much it still sends.
    private var lingerUntil = NIODeadline.distantFuture
    /// The proxy stopped reading the client: its silence is not the client's.
    private var readsHeld = false
    private var state = State.idle
    private var timer: Scheduled<Void>?
    private var servedRequest = false
    private var heldQuiesce: Any?
    private var context: ChannelHandlerContext?

    init(options: ProxyOptions) {
        headerTimeout = options.headerTimeout
        idleTimeout = options.idleTimeout
        bodyTimeout = options.bodyTimeout
        lingerTimeout = options.lingerTimeout
        lingerTime = options.lingerTime
        drainIdleGrace = options.drainIdleGrace
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { perform(.startIdleTimer) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // A connection that became a tunnel has no HTTP timeouts any more.
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        perform(.startIdleTimer)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        perform(state.bytesArrived())
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        deadline = nil
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, state == .idle || state == .readingHead {
            heldQuiesce = event
            // A client that connected but never sends gets no longer than a slow one; one
            // between requests, a short grace for its next.
            if state == .idle { servedRequest ? arm(.now() + drainIdleGrace, .closeIdle) : perform(.startHeaderTimer) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func headArrived() {
        perform(state.headArrived())
        servedRequest = true
        if let event = heldQuiesce, let context {
            heldQuiesce = nil
            // After the head has reached the proxy handler, so it closes after this response.
            context.eventLoop.assumeIsolated().execute { context.fireUserInboundEventTriggered(event) }
        }
    }

    func requestEnded() { perform(state.requestEnded()) }

    /// The proxy shut its output after an answer the client may still be sending to (see
    /// `ProxyHandler.closeAfterResponse`).
    func linger() {
        guard state != .closed else { return }
        state = .lingering
        lingerUntil = .now() + lingerTime
        perform(.startLingerTimer)
    }

    func responseFinished() { perform(state.responseFinished()) }

    /// The proxy holds (or resumes) reading the client; when it resumes, the client gets a
    /// whole `bodyTimeout` again.
    func clientReadsHeld(_ held: Bool) {
        readsHeld = held
        if !held, case .readingBody = state { perform(.startBodyTimer) }
    }

    /// What happens when the deadline passes.
    private enum Expiry {
        case closeIdle
        case answer408
        case bodyStalled
    }

    /// Per request only this deadline moves; the one scheduled check follows it, so a busy
    /// keep-alive connection does not schedule and cancel a timer for every request.
    private var deadline: (at: NIODeadline, expiry: Expiry)?
    private var checkAt: NIODeadline?

    private func perform(_ action: State.Action) {
        guard context != nil else { return }
        switch action {
        case .none: return
        case .cancelTimer: deadline = nil
        case .startIdleTimer: arm(.now() + idleTimeout, .closeIdle)
        case .startHeaderTimer: arm(.now() + headerTimeout, .answer408)
        case .startBodyTimer: arm(.now() + bodyTimeout, .bodyStalled)
        case .startLingerTimer: arm(min(.now() + lingerTimeout, lingerUntil), .closeIdle)
        }
    }

    private func arm(_ at: NIODeadline, _ expiry: Expiry) {
        deadline = (at, expiry)
        // A pending check that comes no later will move itself on; an earlier deadline needs one.
        if let checkAt, checkAt <= at { return }
        scheduleCheck(at: at)
    }

    private func scheduleCheck(at: NIODeadline) {
        guard let context else { return }
        timer?.cancel()
        checkAt = at
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: at) { [weak self] in
            self?.check()
        }
    }

    private func check() {
        timer = nil
        checkAt = nil
        guard state != .closed, let deadline, let context else { return }
        if NIODeadline.now() < deadline.at { return scheduleCheck(at: deadline.at) }
        if deadline.expiry == .bodyStalled, readsHeld { return arm(.now() + bodyTimeout, .bodyStalled) }
        self.deadline = nil
        switch deadline.expiry {
        case .bodyStalled:
            context.fireUserInboundEventTriggered(BodyTimedOut())
        case .closeIdle:
            context.close(promise: nil)
        case .answer408:
            let response = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            context.writeAndFlush(NIOAny(ByteBuffer(string: response))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
