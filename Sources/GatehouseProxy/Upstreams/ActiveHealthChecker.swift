import GatehouseModel
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Runs the active health probes the served config asks for, and reports their verdicts to
/// `TargetHealth`. `update` is called with every applied config: probes whose upstream, target
/// and settings are unchanged keep running (and keep their counts); others stop or start.
/// Thread-safe.
public final class ActiveHealthChecker: Sendable {
    private struct ProbeKey: Hashable {
        let health: String
        let settings: Upstream.ActiveHealth
        let scheme: String
    }

    private let group: any EventLoopGroup
    private let health: TargetHealth
    private let logger: Logger
    /// A running probe, and whether it was stopped (its last answer may still be on the way).
    private struct Probe {
        let task: RepeatedTask
        let stopped: NIOLockedValueBox<Bool>

        func stop() {
            stopped.withLockedValue { $0 = true }
            task.cancel()
        }
    }

    private let probes = NIOLockedValueBox<[ProbeKey: Probe]>([:])

    public init(group: any EventLoopGroup, health: TargetHealth, logger: Logger) {
        self.group = group
        self.health = health
        self.logger = logger
    }

    func update(_ config: CompiledConfig) {
        var wanted: [ProbeKey: (CompiledUpstream, Int)] = [:]
        for upstream in config.upstreams {
            guard let settings = upstream.activeHealth else { continue }
            for index in upstream.endpoints.indices {
                let key = ProbeKey(health: upstream.healthKeys[index], settings: settings, scheme: upstream.poolKeys[index])
                wanted[key] = (upstream, index)
            }
        }
        let (stopped, started) = probes.withLockedValue { probes -> ([Probe], [ProbeKey]) in
            let stopped = probes.filter { wanted[$0.key] == nil }
            for key in stopped.keys { probes[key] = nil }
            return (Array(stopped.values), wanted.keys.filter { probes[$0] == nil })
        }
        for probe in stopped { probe.stop() }
        for key in started {
            let (upstream, index) = wanted[key]!
            let probe = start(upstream: upstream, index: index, key: key.health, settings: key.settings)
            probes.withLockedValue { $0[key] = probe }
        }
        // Targets no probe watches any more are no longer held down by one.
        let watched = Set(wanted.keys.map(\.health))
        for key in Set(stopped.isEmpty ? [] : health.ejected()).subtracting(watched) { health.setActive(key, down: false) }
    }

    /// Stops every probe (on shutdown).
    public func stop() {
        let all = probes.withLockedValue { probes in
            defer { probes = [:] }
            return Array(probes.values)
        }
        for probe in all { probe.stop() }
    }

    private func start(upstream: CompiledUpstream, index: Int, key: String, settings: Upstream.ActiveHealth) -> Probe {
        let target = upstream.endpoints[index]
        let tls = upstream.tls.map { ($0.context, $0.serverNames[index]) }
        let timeout = TimeAmount.milliseconds(settings.timeout.milliseconds)
        let counts = NIOLockedValueBox((successes: 0, failures: 0))
        let health = self.health
        let logger = self.logger
        let eventLoop = group.next()
        let stopped = NIOLockedValueBox(false)
        let task = eventLoop.scheduleRepeatedAsyncTask(initialDelay: .zero, delay: .milliseconds(settings.interval.milliseconds)) { _ in
            Self.probe(target, path: settings.path, tls: tls, timeout: timeout, on: eventLoop).map { healthy in
                let verdict = counts.withLockedValue { counts -> Bool? in
                    if healthy {
                        counts = (counts.successes + 1, 0)
                        return counts.successes >= settings.healthy ? false : nil
                    }
                    counts = (0, counts.failures + 1)
                    return counts.failures >= settings.unhealthy ? true : nil
                }
                guard let down = verdict else { return }
                // Under the probe's lock, so a probe stopped meanwhile cannot set a stale verdict.
                let changed = stopped.withLockedValue { stopped -> Bool in
                    guard !stopped else { return false }
                    let wasDown = !health.isHealthy(key, now: .now())
                    health.setActive(key, down: down)
                    return wasDown != down
                }
                if changed {
                    logger.notice(down ? "target failed its health checks" : "target passed its health checks", metadata: ["target": "\(key)"])
                }
            }
        }
        return Probe(task: task, stopped: stopped)
    }

    /// One `GET path`: succeeds with true for a 2xx or 3xx answer within `timeout`.
    private static func probe(
        _ target: UpstreamEndpoint, path: String, tls: (NIOSSLContext, String?)?, timeout: TimeAmount, on eventLoop: any EventLoop
    ) -> EventLoopFuture<Bool> {
        let result = eventLoop.makePromise(of: Bool.self)
        let deadline = eventLoop.scheduleTask(in: timeout) { result.succeed(false) }
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let (context, name) = tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: name))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ProbeHandler(result: result))
                }
            }
            .connect(host: target.host, port: target.port)
            .whenComplete { connected in
                switch connected {
                case .success(let channel):
                    var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
                    head.headers.add(name: "host", value: target.authority)
                    head.headers.add(name: "connection", value: "close")
                    head.headers.add(name: "user-agent", value: "gatehouse-health-check")
                    channel.write(HTTPClientRequestPart.head(head), promise: nil)
                    channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                    result.futureResult.whenComplete { _ in channel.close(promise: nil) }
                case .failure:
                    result.succeed(false)
                }
            }
        return result.futureResult.always { _ in deadline.cancel() }
    }
}

/// Reads a probe's answer: its status decides, its body is ignored.
private final class ProbeHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    let result: EventLoopPromise<Bool>

    init(result: EventLoopPromise<Bool>) {
        self.result = result
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            result.succeed((200..<400).contains(head.status.code))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        result.succeed(false)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        result.succeed(false)
        context.close(promise: nil)
    }
}
