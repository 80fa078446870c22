import GatehouseModel

/// Turns a snapshot into a `CompiledConfig`, or refuses it whole with the reason.
public enum ConfigCompiler {
    public struct Rejection: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// - Parameters:
    ///   - policies: where policies keep what outlives a snapshot (counters, Redis clients).
    ///   - meters: where requests are counted, by route, upstream and target.
    ///   - sealer: opens the certificates' keys; a snapshot with certificates is refused without it.
    public static func compile(_ snapshot: Snapshot, policies: PolicyState, meters: RequestMetrics, sealer: KeySealer? = nil) throws(Rejection) -> CompiledConfig {
        try compile(snapshot, policies: policies, meters: meters, answers: [:], sealer: sealer)
    }

    /// - Parameters:
    ///   - answers: addresses discovery has found for targets given as names.
    ///   - previous: the config served, whose compiled routes and upstreams are kept for the
    ///     entities that did not change (`compileChanges`).
    static func compile(
        _ snapshot: Snapshot, policies: PolicyState, meters: RequestMetrics, answers: [TargetDiscovery.Question: [TargetDiscovery.Address]],
        previous: CompiledConfig? = nil, sealer: KeySealer? = nil
    ) throws(Rejection) -> CompiledConfig {
        let document = snapshot.document
        do {
            // The served config's document was valid: a change can often be proven valid by itself.
            if let previous, document.isValidChange(from: previous.document) {} else { try document.validate() }
        } catch {
            throw Rejection(description: "invalid snapshot: \(error)")
        }
        do {
            try ConfigAdmission.checkPolicies(document)
        } catch {
            throw Rejection(description: error.message)
        }
        let certificates = try CertificateTable.compile(document.certificates, previous: previous?.certificates, sealer: sealer)
        if let previous,
            let compiled = try compileChanges(snapshot, from: previous, policies: policies, meters: meters, answers: answers, certificates: certificates)
        {
            return compiled
        }
        var upstreams: [CompiledUpstream] = []
        var indices: [String: Int] = [:]
        for upstream in document.upstreams {
            indices[upstream.name] = upstreams.count
            upstreams.append(try compile(upstream, endpoints: UpstreamEndpoint.expand(upstream.targets, answers: answers), meters: meters))
        }
        var chains = PolicyCompiler(document, state: policies, meters: meters)
        var routes: [CompiledRoute] = []
        for route in document.routes {
            guard let upstream = indices[route.upstream] else {
                throw Rejection(description: "route '\(route.name)' names unknown upstream '\(route.upstream)'")
            }
            routes.append(CompiledRoute(route, upstream: upstream, policies: try chains.chain(forRoute: route.name), meters: meters))
        }
        return CompiledConfig(
            version: snapshot.version, hash: snapshot.hash, routes: RouteTable(routes: routes), upstreams: upstreams,
            questions: TargetDiscovery.questions(in: document), policyMetrics: policies.metrics, document: document,
            certificates: certificates)
    }

    /// - Parameter previous: the upstream compiled before, whose TLS context may be kept.
    static func compile(
        _ upstream: Upstream, endpoints: [UpstreamEndpoint], previous: CompiledUpstream? = nil, meters: RequestMetrics
    ) throws(Rejection) -> CompiledUpstream {
        do {
            return try CompiledUpstream(upstream, endpoints: endpoints, reusingTLS: previous, meters: meters)
        } catch {
            throw Rejection(description: "upstream '\(upstream.name)': cannot set up TLS: \(error)")
        }
    }
}
