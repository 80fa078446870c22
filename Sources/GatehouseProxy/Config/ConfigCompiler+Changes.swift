import GatehouseModel

extension ConfigCompiler {
    /// Compiles `snapshot` keeping what `previous` compiled of the entities that did not change: a
    /// changed upstream is compiled again in its place, each created or changed route is compiled,
    /// every other route is the same object as before, and the route table is the previous one
    /// with the routes that changed taken out and put in again. Nil
    /// when the change reaches further (an upstream created or deleted moves the upstream index of
    /// every route after it; a consumer or policy changed can change any route's chain): then the
    /// whole snapshot is compiled. The document was validated whole before this is called.
    static func compileChanges(
        _ snapshot: Snapshot, from previous: CompiledConfig, policies: PolicyState, meters: RequestMetrics,
        answers: [TargetDiscovery.Question: [TargetDiscovery.Address]], certificates: CertificateTable
    ) throws(Rejection) -> CompiledConfig? {
        let (old, new) = (previous.document, snapshot.document)
        guard old.upstreams.count == new.upstreams.count, previous.upstreams.count == old.upstreams.count,
            previous.routes.all.count == old.routes.count, old.consumers == new.consumers, old.policies == new.policies
        else { return nil }
        var upstreams = previous.upstreams
        var upstreamsChanged = false
        for index in new.upstreams.indices where new.upstreams[index] != old.upstreams[index] {
            guard new.upstreams[index].name == old.upstreams[index].name else { return nil }
            let upstream = new.upstreams[index]
            upstreams[index] = try compile(
                upstream, endpoints: UpstreamEndpoint.expand(upstream.targets, answers: answers), previous: upstreams[index], meters: meters)
            upstreamsChanged = true
        }
        var chains: PolicyCompiler?
        func compileRoute(_ route: Route) throws(Rejection) -> CompiledRoute {
            guard let upstream = upstreamIndex(route.upstream, in: new.upstreams) else {
                throw Rejection(description: "route '\(route.name)' names unknown upstream '\(route.upstream)'")
            }
            if chains == nil { chains = PolicyCompiler(new, state: policies, meters: meters) }
            return CompiledRoute(route, upstream: upstream, policies: try chains!.chain(forRoute: route.name), meters: meters)
        }
        let kept = previous.routes.all
        var routes: [CompiledRoute] = []
        routes.reserveCapacity(new.routes.count)
        var (removed, added): ([CompiledRoute], [CompiledRoute]) = ([], [])
        var (i, j) = (0, 0)
        while i < old.routes.count || j < new.routes.count {
            if j == new.routes.count || (i < old.routes.count && old.routes[i].name < new.routes[j].name) {
                removed.append(kept[i])  // deleted
                i += 1
            } else if i < old.routes.count, old.routes[i].name == new.routes[j].name {
                if old.routes[i] == new.routes[j] {
                    routes.append(kept[i])
                } else {
                    removed.append(kept[i])
                    added.append(try compileRoute(new.routes[j]))
                    routes.append(added[added.count - 1])
                }
                (i, j) = (i + 1, j + 1)
            } else {
                added.append(try compileRoute(new.routes[j]))
                routes.append(added[added.count - 1])
                j += 1
            }
        }
        return CompiledConfig(
            version: snapshot.version, hash: snapshot.hash, routes: previous.routes.updating(to: routes, removing: removed, adding: added),
            upstreams: upstreams,
            questions: upstreamsChanged ? TargetDiscovery.questions(in: new) : previous.questions, policyMetrics: policies.metrics, document: new,
            certificates: certificates)
    }

    /// Where the upstream named `name` is in a document's list (sorted by name).
    private static func upstreamIndex(_ name: String, in upstreams: [Upstream]) -> Int? {
        var (low, high) = (0, upstreams.count)
        while low < high {
            let middle = (low + high) / 2
            if upstreams[middle].name < name { low = middle + 1 } else { high = middle }
        }
        return low < upstreams.count && upstreams[low].name == name ? low : nil
    }
}
