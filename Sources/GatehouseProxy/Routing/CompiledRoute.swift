import GatehouseModel

/// One route ready to serve: its match rules and where its upstream sits in the config's list,
/// so new addresses for an upstream do not rebuild the route table.
public final class CompiledRoute: Sendable {
    public let id: String
    public let name: String
    let hosts: [String]
    let paths: [RoutePath]
    let methods: Set<String>
    let headers: [String: Set<String>]
    let stripPath: Bool
    let preserveHost: Bool
    let upstreamPath: RoutePath?
    let upstream: Int
    /// Nil when no policy applies to the route.
    public let policies: PolicyChain?
    /// Where its requests are counted (`RequestMetrics`).
    let meterSlot: Int
    /// Its requests are also counted by consumer.
    let consumerMetrics: Bool
    /// Plain-HTTP requests are answered 308 to https.
    let httpsRedirect: Bool
    /// `Strict-Transport-Security` for answers over TLS, made once here.
    let hsts: (String, String)?

    init(_ route: Route, upstream: Int, policies: PolicyChain? = nil, meters: RequestMetrics) {
        meterSlot = meters.routeSlot(route.name)
        consumerMetrics = route.consumerMetrics
        httpsRedirect = route.httpsRedirect
        hsts = route.hsts.map { ("strict-transport-security", $0.headerValue) }
        id = route.id
        name = route.name
        hosts = route.hosts
        // Admission validated every path; a snapshot that fails here was refused before.
        paths = route.paths.compactMap { try? RoutePath($0) }
        upstreamPath = route.upstreamPath.flatMap { try? RoutePath($0) }
        methods = Set(route.methods)
        headers = route.headers.mapValues(Set.init)
        stripPath = route.stripPath
        preserveHost = route.preserveHost
        self.upstream = upstream
        self.policies = policies
    }
}
