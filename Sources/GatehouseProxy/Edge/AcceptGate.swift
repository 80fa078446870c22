import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Decides when a proxy listener accepts, in its server channel's pipeline (one per event loop).
///
/// - At `limit` open connections it stops accepting until one closes: new clients wait in the
///   kernel's backlog instead of the process running out of file descriptors, so the status
///   and admin ports, upstream connections and the database keep theirs (nginx's
///   `worker_connections`).
/// - An accept that fails for want of descriptors or memory (`EMFILE`, `ENFILE`, `ENOBUFS`,
///   `ENOMEM`) pauses accepting for `backoff` instead of retrying at once: NIO would otherwise
///   spin on the still-readable socket. The first failure of a run is logged, the run's end
///   too, and every failure is counted. A run ends when accepts have gone on succeeding for
///   `recovery`: while descriptors free up one at a time, accepts alternate with failures, and
///   that is one run, not a log line each.
///
/// Its state belongs to the server channel's event loop.
final class AcceptGate: ChannelDuplexHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel
    typealias OutboundIn = Never

    private let limit: Int
    private let backoff: TimeAmount
    private let recovery: TimeAmount
    private let metrics: EdgeMetrics
    private let logger: Logger
    private var open = 0
    /// A read the channel asked for and was not given yet.
    private var readHeld = false
    private var pausedUntil: NIODeadline?
    private var resume: Scheduled<Void>?
    /// Failed accepts in this run of failures; 0 outside one.
    private var failures = 0
    /// Ends the run of failures, armed by an accept that succeeded during one.
    private var recovered: Scheduled<Void>?
    private var loggedLimit = false
    private var context: ChannelHandlerContext?

    init(limit: Int, backoff: TimeAmount = .milliseconds(100), recovery: TimeAmount = .seconds(1), metrics: EdgeMetrics, logger: Logger) {
        self.limit = limit
        self.backoff = backoff
        self.recovery = recovery
        self.metrics = metrics
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        cancelTimers()
    }

    func read(context: ChannelHandlerContext) {
        if open >= limit || pausedUntil.map({ $0 > .now() }) == true {
            readHeld = true
            if open >= limit, !loggedLimit {
                loggedLimit = true
                logger.warning("connection limit reached; new clients wait to be accepted", metadata: ["limit": "\(limit)"])
            }
            return
        }
        pausedUntil = nil
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        if failures > 0, recovered == nil {
            recovered = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: recovery) { [self] in
                recovered = nil
                logger.notice("accepting connections again", metadata: ["failed_accepts": "\(failures)"])
                failures = 0
            }
        }
        open += 1
        // The connection may live on another loop (one socket for all workers): back to this one.
        child.closeFuture.hop(to: context.eventLoop).assumeIsolatedUnsafeUnchecked().whenComplete { [self] _ in
            open -= 1
            if open < limit { loggedLimit = false }
            releaseHeldRead()
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? IOError, [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(error.errnoCode) else {
            return context.fireErrorCaught(error)
        }
        metrics.count(\.acceptFailures)
        if failures == 0 {
            logger.error(
                "cannot accept connections: \(error.errnoCode == ENFILE ? "the system" : "this process") is out of file descriptors or memory; pausing accepts",
                metadata: ["open_connections": "\(open)", "pause": "\(backoff)", "error": "\(error)"])
        }
        failures += 1
        recovered?.cancel()
        recovered = nil
        pausedUntil = .now() + backoff
        resume?.cancel()
        resume = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: backoff) { [self] in
            resume = nil
            releaseHeldRead()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        context.fireChannelInactive()
    }

    private func cancelTimers() {
        resume?.cancel()
        resume = nil
        recovered?.cancel()
        recovered = nil
    }

    private func releaseHeldRead() {
        guard readHeld, let context else { return }
        // Not while the sockets are lent to a successor (`Listener.handOver`).
        guard (try? context.channel.syncOptions?.getOption(.autoRead)) != false else { return }
        readHeld = false
        read(context: context)
    }

    /// The connections a process may hold open at once by default: half of what its descriptor
    /// limit leaves after a reserve (each client connection may hold an upstream one too).
    static func defaultLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(Int32.max) else { return 1 << 20 }
        let soft = Int(clamping: limit.rlim_cur)
        let reserve = min(64, soft / 2)
        return max(1, (soft - reserve) / 2)
    }
}
