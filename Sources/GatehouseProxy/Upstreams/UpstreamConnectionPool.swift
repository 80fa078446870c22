import GatehouseModel
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Keep-alive connections to upstream targets for one event loop. Only that loop touches it, so
/// it needs no locks; a request borrows a connection and gives it back when its response ended.
///
/// With a connection limit, a request that finds every connection to its target busy waits in
/// line (first come, first served) until one is given back or its wait runs out.
final class UpstreamConnectionPool {
    /// Every connection to the target is busy and none came free in time.
    struct Saturated: Error {}

    typealias Callback = (Result<(UpstreamConnection, reused: Bool), any Error>) -> Void

    /// How to open a connection to one target: everything `acquire` was given.
    private struct Recipe {
        let target: UpstreamEndpoint
        let tls: (context: NIOSSLContext, serverName: String?)?
        let connectTimeout: TimeAmount
    }

    private final class Waiter {
        let recipe: Recipe
        let callback: Callback
        var timer: Scheduled<Void>?

        init(recipe: Recipe, callback: @escaping Callback) {
            self.recipe = recipe
            self.callback = callback
        }
    }

    /// A class, so each operation looks its target up once rather than once per field it touches.
    private final class Target {
        var idle: [UpstreamConnection] = []
        /// Connections lent out or being opened.
        var busy = 0
        var waiting: [Waiter] = []
        var limits = Upstream.Pool()
    }

    let eventLoop: any EventLoop
    private var targets: [String: Target] = [:]
    private var sweepTask: Scheduled<Void>?
    private var sweepAt: NIODeadline?
    /// This loop's request ids (kept here: the pool is the one per-loop object handlers share).
    var requestIDs = RequestIDs()
    /// This loop's limit on upstream failure log lines.
    var failureLog = FailureLogThrottle()

    /// Whether the connections opened pass on response fields with `_` in their names.
    private let keepsUnderscoreFields: Bool
    let metrics: EdgeMetrics

    init(eventLoop: any EventLoop, keepsUnderscoreFields: Bool = false, metrics: EdgeMetrics = EdgeMetrics()) {
        self.eventLoop = eventLoop
        self.keepsUnderscoreFields = keepsUnderscoreFields
        self.metrics = metrics
    }

    private func target(_ key: String) -> Target {
        if let target = targets[key] { return target }
        let target = Target()
        targets[key] = target
        return target
    }

    /// Requests in flight to `key` on this loop (for `least-connections`).
    func activeCount(_ key: String) -> Int { targets[key]?.busy ?? 0 }

    /// An open idle connection to `key`, taken for a request (counted busy), if there is one.
    func takeIdle(key: String, limits: Upstream.Pool) -> UpstreamConnection? {
        eventLoop.preconditionInEventLoop()
        let pooled = self.target(key)
        pooled.limits = limits
        while let connection = pooled.idle.popLast() {
            connection.idleUntil = nil
            if connection.isOpen, connection.isReusable {
                pooled.busy += 1
                return connection
            }
        }
        return nil
    }

    /// A connection to the endpoint: an idle one when there is one, else a new one, else (at the
    /// limit) the next one given back. The callback runs on this loop with the connection and
    /// whether it was reused.
    func acquire(
        _ target: UpstreamEndpoint, key: String, tls: (context: NIOSSLContext, serverName: String?)?, connectTimeout: TimeAmount,
        limits: Upstream.Pool, reuse: Bool = true, _ callback: @escaping Callback
    ) {
        if reuse, let connection = takeIdle(key: key, limits: limits) { return callback(.success((connection, true))) }
        let pooled = self.target(key)
        pooled.limits = limits
        let recipe = Recipe(target: target, tls: tls, connectTimeout: connectTimeout)
        if let max = limits.maxConnections, pooled.busy >= max {
            let waiter = Waiter(recipe: recipe, callback: callback)
            waiter.timer = eventLoop.assumeIsolated().scheduleTask(in: connectTimeout) { [weak self, weak waiter] in
                guard let self, let waiter else { return }
                self.targets[key]?.waiting.removeAll { $0 === waiter }
                waiter.callback(.failure(Saturated()))
            }
            pooled.waiting.append(waiter)
            return
        }
        open(recipe, key: key, callback)
    }

    private func open(_ recipe: Recipe, key: String, _ callback: @escaping Callback) {
        target(key).busy += 1
        let connection = UpstreamConnection(key: key, keepsUnderscoreFields: keepsUnderscoreFields, metrics: metrics)
        connection.onClose = { [weak self] closed in
            self?.targets[closed.key]?.idle.removeAll { $0 === closed }
            self?.forgetIfUnused(closed.key)
        }
        let handler = NIOLoopBound(connection, eventLoop: eventLoop)
        let tls = recipe.tls
        ClientBootstrap(group: eventLoop)
            .connectTimeout(recipe.connectTimeout)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls.context, serverHostname: tls.serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler.value)
                }
            }
            .connect(host: recipe.target.host, port: recipe.target.port)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success:
                    callback(.success((connection, false)))
                case .failure(let error):
                    self.freed(key)
                    callback(.failure(error))
                }
            }
    }

    /// Gives a connection back. A reusable one goes to the first request waiting for one, or
    /// waits idle for the next; any other is closed.
    func release(_ connection: UpstreamConnection, reusable: Bool) {
        eventLoop.preconditionInEventLoop()
        connection.delegate = nil
        let key = connection.key
        guard reusable, connection.isOpen, connection.isReusable else {
            connection.close()
            return freed(key)
        }
        guard let pooled = targets[key] else { return connection.close() }
        if let waiter = nextWaiter(pooled) {
            return waiter.callback(.success((connection, true)))
        }
        pooled.busy -= 1
        guard pooled.idle.count < pooled.limits.maxIdle else {
            connection.close()
            return forgetIfUnused(key)
        }
        pooled.idle.append(connection)
        let until = NIODeadline.now() + .milliseconds(pooled.limits.idleTimeout.milliseconds)
        connection.idleUntil = until
        sweep(at: until)
    }

    /// Makes sure idle connections are looked at by `at`. One task for the whole pool, not one
    /// per connection given back: a busy pool would schedule and cancel one per request.
    private func sweep(at: NIODeadline) {
        if let sweepAt, sweepAt <= at { return }
        sweepTask?.cancel()
        sweepAt = at
        sweepTask = eventLoop.assumeIsolated().scheduleTask(deadline: at) { [weak self] in
            self?.closeExpiredIdle()
        }
    }

    /// Closes the idle connections whose time ran out, and plans the next look.
    private func closeExpiredIdle() {
        sweepTask = nil
        sweepAt = nil
        let now = NIODeadline.now()
        var next: NIODeadline?
        for connection in targets.values.flatMap(\.idle) {
            guard let until = connection.idleUntil else { continue }
            if until <= now {
                connection.idleUntil = nil
                connection.close()
            } else {
                next = min(next ?? until, until)
            }
        }
        if let next { sweep(at: next) }
    }

    /// Takes a connection out of the pool's accounting for good: it became a tunnel.
    func detach(_ connection: UpstreamConnection) {
        eventLoop.preconditionInEventLoop()
        connection.delegate = nil
        freed(connection.key)
    }

    /// Closes every idle connection (on shutdown).
    func closeIdle() {
        sweepTask?.cancel()
        sweepTask = nil
        sweepAt = nil
        let all = targets.values.flatMap(\.idle)
        for target in targets.values { target.idle = [] }
        for connection in all { connection.close() }
    }

    /// A connection to `key` is gone: a request waiting for one gets a new one instead.
    private func freed(_ key: String) {
        guard let pooled = targets[key] else { return }
        pooled.busy -= 1
        if let waiter = nextWaiter(pooled) {
            return open(waiter.recipe, key: key, waiter.callback)
        }
        forgetIfUnused(key)
    }

    /// Targets come and go with configs and DNS answers: one with nothing left is dropped.
    private func forgetIfUnused(_ key: String) {
        if let target = targets[key], target.busy == 0, target.idle.isEmpty, target.waiting.isEmpty { targets[key] = nil }
    }

    /// The first waiting request, out of line, its timer stopped; the slot stays counted as busy.
    private func nextWaiter(_ target: Target) -> Waiter? {
        guard let waiter = target.waiting.first else { return nil }
        target.waiting.removeFirst()
        waiter.timer?.cancel()
        return waiter
    }
}
