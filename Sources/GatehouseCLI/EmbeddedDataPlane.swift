import Foundation
import ArgumentParser
import GatehouseModel
import GatehouseProxy
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import UnixSignals

/// The parts of a data plane, in `serve` and in `data-plane`: what it serves, its health records,
/// name resolution, the applier that swaps snapshots in, the status port and the proxy (bound once
/// a config is served).
struct EmbeddedDataPlane {
    let active = ActiveConfig()
    let state = DataPlaneState()
    let health = TargetHealth()
    let checker: ActiveHealthChecker
    let discovery: TargetDiscovery
    let policies: PolicyState
    let edgeMetrics = EdgeMetrics()
    let requestMetrics: RequestMetrics
    let accessLog: AccessLog?
    let tracer: SpanExporter?
    let applier: SnapshotApplier
    /// The plain listener, then the TLS one when `--proxy-tls-listen` asks for it.
    let proxies: [ProxyWhenReady]
    let status: Listener

    /// The worst of the listeners' drains.
    var drainOutcome: Listener.DrainOutcome? {
        let outcomes = proxies.compactMap(\.drainOutcome)
        return outcomes.contains(.cut) ? .cut : outcomes.first
    }

    /// - Parameters:
    ///   - handoffPath: the Unix socket an upgrade hands the proxy's listening sockets over (nil: none).
    ///   - extra: fields the status port adds to `/status`.
    ///   - extraMetrics: families it adds to `/metrics`.
    init(
        options: DataPlaneOptions, group: MultiThreadedEventLoopGroup, handoffPath: String?, logger: Logger,
        extraMetrics: @escaping @Sendable () -> String = { "" }, extra: @escaping @Sendable () -> [String: JSONValue]
    ) async throws {
        requestMetrics = RequestMetrics(consumerLabels: options.consumerMetricsCap)
        do {
            accessLog = try options.accessLogDestination.map { try AccessLog($0, logger: logger) }
        } catch {
            logger.critical("\(error)")
            throw ExitCode(2)
        }
        tracer = options.otlpEndpoint.isEmpty ? nil : SpanExporter(endpoint: options.otlpEndpoint, sampleRatio: options.traceSampleRatio, logger: logger)
        if let tracer { Task { await tracer.run() } }
        checker = ActiveHealthChecker(group: group, health: health, logger: logger)
        discovery = TargetDiscovery(servers: options.dnsResolver.servers, group: group, logger: logger)
        policies = PolicyState(logger: logger, redisTimeout: options.redisTimeout.timeAmount)
        applier = SnapshotApplier(
            active: active, state: state, checker: checker, discovery: discovery, policies: policies, meters: requestMetrics, sealer: options.sealer,
            logger: logger)
        let (active, state, health, discovery, metrics, edgeMetrics) = (active, state, health, discovery, policies, edgeMetrics)
        let requestMetrics = options.requestMetrics == .on ? requestMetrics : nil
        let (accessLog, tracer) = (accessLog, tracer)
        if let accessLog { Self.reopenOnHangUp(accessLog) }
        var proxyOptions = options.proxyOptions
        let tlsPort = NIOLockedValueBox<Int?>(nil)
        proxyOptions.httpsPort = { tlsPort.withLockedValue { $0 } }
        let plain = ProxyWhenReady(state: state, address: options.proxyListen, handoffPath: handoffPath, logger: logger) {
            [proxyListen = options.proxyListen, proxyOptions] sockets in
            try await ProxyServer.bind(
                proxyListen, group: group, active: active, options: proxyOptions, state: state, health: health, metrics: edgeMetrics,
                requestMetrics: requestMetrics, accessLog: accessLog, tracer: tracer, sockets: sockets, logger: logger)
        }
        var proxies = [plain]
        if let tlsListen = options.proxyTLSAddress {
            tlsPort.withLockedValue { $0 = tlsListen.port }
            let context: NIOSSLContext
            do {
                context = try EdgeTLS.context(active: active)
            } catch {
                logger.critical("cannot set up the TLS listener", metadata: ["error": "\(error)"])
                throw ExitCode(2)
            }
            // Its own handoff socket: an upgrade takes each listener's sockets over apart.
            proxies.append(
                ProxyWhenReady(state: state, address: tlsListen, handoffPath: handoffPath.map { $0 + ".tls" }, logger: logger) {
                    [proxyOptions] sockets in
                    let listener = try await ProxyServer.bind(
                        tlsListen, group: group, active: active, options: proxyOptions, state: state, health: health, metrics: edgeMetrics,
                        requestMetrics: requestMetrics, accessLog: accessLog, tracer: tracer, sockets: sockets, tls: context, logger: logger)
                    tlsPort.withLockedValue { $0 = listener.localAddress.port ?? tlsListen.port }
                    return listener
                })
        }
        self.proxies = proxies
        status = try await StatusServer.bind(
            options.statusListen, group: StatusServer.makeGroup(), state: state,
            extra: {
                var fields = extra()
                fields["pid"] = .int(Int(ProcessInfo.processInfo.processIdentifier))
                fields["ejected_targets"] = .array(health.ejected().map(JSONValue.string))
                fields["upstreams"] = active.load()?.endpointsByUpstream ?? [:]
                fields["dns_failed_lookups"] = .int(discovery.failedLookups)
                return fields
            },
            extraMetrics: {
                (requestMetrics?.prometheusText ?? "") + health.prometheusText(active.load()) + (accessLog?.prometheusText ?? "") + (tracer?.prometheusText ?? "")
                    + metrics.prometheusText + edgeMetrics.prometheusText + (active.load()?.certificateMetrics ?? "") + extraMetrics()
            },
            logger: logger
        )
    }

    /// SIGHUP opens the access log's path again (logrotate moved the file), for the life of the process.
    private static func reopenOnHangUp(_ log: AccessLog) {
        Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) { log.reopen() }
        }
    }
}
