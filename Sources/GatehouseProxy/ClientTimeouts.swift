import NIOCore

/// Time limits on a client connection between requests, placed before the HTTP decoder so it
/// sees raw bytes: a connection idle for `idleTimeout` is closed; once a request's first bytes
/// arrive, its head must be complete within `headerTimeout` (slow-header clients get 408).
/// `ProxyHandler` reports when a head arrived and when its response finished.
///
/// It also holds back a drain's quiesce event from a connection whose first request is still on
/// its way (accepted, or partly read): NIO would close such a connection as idle and lose that
/// request. The event goes on once the head arrives, so the request is answered with
/// `Connection: close`.
final class ClientTimeouts: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// The connection's phase, as a value; transitions return what to do.
    enum State: Equatable {
        case idle
        case readingHead
        case busy
        case closed

        enum Action: Equatable {
            case none
            case startIdleTimer
            case startHeaderTimer
            case cancelTimer
        }

        mutating func bytesArrived() -> Action {
            guard self == .idle else { return .none }
            self = .readingHead
            return .startHeaderTimer
        }

        mutating func headArrived() -> Action {
            guard self != .closed else { return .none }
            self = .busy
            return .cancelTimer
        }

        mutating func responseFinished() -> Action {
            guard self == .busy else { return .none }
            self = .idle
            return .startIdleTimer
        }
    }

    private let headerTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var state = State.idle
    private var timer: Scheduled<Void>?
    private var servedRequest = false
    private var heldQuiesce: Any?
    private var context: ChannelHandlerContext?

    init(headerTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
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
        if event is ChannelShouldQuiesceEvent, !servedRequest, state == .idle || state == .readingHead {
            heldQuiesce = event
            // A client that connected but never sends gets no longer than a slow one.
            if state == .idle { perform(.startHeaderTimer) }
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

    func responseFinished() { perform(state.responseFinished()) }

    /// What happens when the deadline passes.
    private enum Expiry {
        case closeIdle
        case answer408
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
        self.deadline = nil
        switch deadline.expiry {
        case .closeIdle:
            context.close(promise: nil)
        case .answer408:
            let response = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            context.writeAndFlush(NIOAny(ByteBuffer(string: response))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
