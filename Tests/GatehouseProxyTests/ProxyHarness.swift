import Foundation
import GatehouseModel
import GatehouseTestSupport
import Logging
import NIOCore
import NIOPosix

@testable import GatehouseProxy

/// A data plane listening on a loopback port 0, fed snapshots directly.
struct ProxyHarness {
    let server: Listener
    let active: ActiveConfig
    let state: DataPlaneState
    let applier: SnapshotApplier
    let health: TargetHealth
    let metrics: EdgeMetrics
    let requestMetrics: RequestMetrics
    var port: Int { server.localAddress.port! }

    /// - Parameter group: the proxy's event loops (a one-loop group makes every connection share one pool).
    static func start(
        options: ProxyOptions = ProxyOptions(), group: MultiThreadedEventLoopGroup = .singleton, policies: PolicyState? = nil,
        requestMetrics: RequestMetrics = RequestMetrics(), logger: Logger = Logger(label: "test")
    ) async throws
        -> ProxyHarness
    {
        let active = ActiveConfig()
        let state = DataPlaneState()
        let health = TargetHealth()
        let checker = ActiveHealthChecker(group: MultiThreadedEventLoopGroup.singleton, health: health, logger: logger)
        let metrics = EdgeMetrics()
        let server = try await ProxyServer.bind(
            ListenAddress(host: "127.0.0.1", port: 0), group: group, active: active, options: options,
            health: health, metrics: metrics, requestMetrics: requestMetrics, logger: logger
        )
        return ProxyHarness(
            server: server, active: active, state: state,
            applier: SnapshotApplier(active: active, state: state, checker: checker, policies: policies, meters: requestMetrics, logger: logger),
            health: health, metrics: metrics, requestMetrics: requestMetrics
        )
    }

    /// A data plane serving version 1: upstream `u` (the given upstream) and route `all` to it.
    static func routingEverything(to upstream: TestUpstream, options: ProxyOptions = ProxyOptions()) async throws -> ProxyHarness {
        try await routingEverything(toTarget: upstream.target, options: options)
    }

    /// The same, to any `host:port` (a `RawUpstream`, a server of the test's own).
    static func routingEverything(toTarget target: String, options: ProxyOptions = ProxyOptions()) async throws -> ProxyHarness {
        let proxy = try await start(options: options)
        try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(target)]]]], routes: [["name": "all", "upstream": "u"]])
        return proxy
    }

    /// Applies a document built from upstreams and routes given in their JSON form.
    @discardableResult
    func apply(
        version: Int, upstreams: [JSONValue], routes: [JSONValue], policies: [JSONValue] = [], consumers: [JSONValue] = []
    ) throws -> String? {
        var document = ConfigDocument()
        document.consumers = try consumers.map { try Consumer.read($0) }
        document.upstreams = try upstreams.map { try Upstream.read($0, id: UUID().uuidString.lowercased()) }
        document.routes = try routes.map { try Route.read($0, id: UUID().uuidString.lowercased()) }
        document.policies = try policies.map { try Policy.read($0, id: $0["id"]?.stringValue ?? UUID().uuidString.lowercased()) }
        document.adoptIdentities(from: ConfigDocument()) { UUID().uuidString.lowercased() }
        document.sort()
        return applier.apply(Snapshot(version: version, document: document))
    }
}
