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
        perform(.cancelTimer)
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
            // After the head has passed the pipeline handler, so it closes after this response.
            context.eventLoop.assumeIsolated().execute { context.fireUserInboundEventTriggered(event) }
        }
    }

    func responseFinished() { perform(state.responseFinished()) }

    private func perform(_ action: State.Action) {
        guard let context else { return }
        switch action {
        case .none: return
        case .cancelTimer:
            timer?.cancel()
            timer = nil
        case .startIdleTimer:
            schedule(idleTimeout, context) { context in context.close(promise: nil) }
        case .startHeaderTimer:
            schedule(headerTimeout, context) { context in
                let response = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                context.writeAndFlush(NIOAny(ByteBuffer(string: response))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            }
        }
    }

    private func schedule(_ delay: TimeAmount, _ context: ChannelHandlerContext, _ fire: @escaping (ChannelHandlerContext) -> Void) {
        timer?.cancel()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [weak self] in
            guard let self, self.state != .closed else { return }
            self.timer = nil
            fire(context)
        }
    }
}
