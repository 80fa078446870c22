/// Validating a document that differs from a valid one in a few routes and upstreams, at the cost
/// of the change rather than of the document: a data plane applying a one-route delta to a config
/// of 100,000 routes checks what the route touches, not every pair of routes again.
extension ConfigDocument {
    /// True when this document is valid given that `old` was (`validate()` passed on it), proven
    /// by checking only what changed; false when that cannot be shown this way (the change
    /// reaches consumers or policies, creates or deletes an upstream, or something it touches
    /// fails a rule): then `validate()` decides, and names the problem. Each entity is taken as
    /// read (its own fields checked by its `read`).
    public func isValidChange(from old: ConfigDocument) -> Bool {
        guard consumers == old.consumers, policies == old.policies, certificates == old.certificates, upstreams.count == old.upstreams.count else { return false }
        var newIDs: [String] = []
        for (upstream, before) in zip(upstreams, old.upstreams) where upstream != before {
            guard upstream.name == before.name else { return false }
            if upstream.id != before.id { newIDs.append(upstream.id) }
        }
        // Routes: names strictly in order (so unique), and what was created, changed or deleted.
        var changed: [Route] = []
        var deleted: [String] = []
        var (i, j) = (0, 0)
        while i < old.routes.count || j < routes.count {
            if j > 0, j < routes.count, !(routes[j - 1].name < routes[j].name) { return false }
            if j == routes.count || (i < old.routes.count && old.routes[i].name < routes[j].name) {
                deleted.append(old.routes[i].name)
                i += 1
            } else if i == old.routes.count || routes[j].name < old.routes[i].name {
                changed.append(routes[j])
                newIDs.append(routes[j].id)
                j += 1
            } else {
                if routes[j] != old.routes[i] {
                    changed.append(routes[j])
                    if routes[j].id != old.routes[i].id { newIDs.append(routes[j].id) }
                }
                (i, j) = (i + 1, j + 1)
            }
        }
        guard idsStayUnique(newIDs) else { return false }
        // A route an acl or a transform runs on must suit it: the whole document's check decides.
        if !changed.isEmpty, policies.contains(where: { $0.enabled && $0.type.needsRouteCheck }) { return false }
        let upstreamNames = Set(upstreams.map(\.name))
        guard changed.allSatisfy({ upstreamNames.contains($0.upstream) }) else { return false }
        if !deleted.isEmpty {
            let gone = Set(deleted)
            guard !policies.contains(where: { $0.route.map(gone.contains) ?? false }) else { return false }
        }
        return routesStayApart(changed)
    }

    /// Whether ids new to the document are UUIDs used by no other entity.
    private func idsStayUnique(_ newIDs: [String]) -> Bool {
        guard !newIDs.isEmpty else { return true }
        guard newIDs.allSatisfy(EntityName.isUUID) else { return false }
        var uses = Dictionary(newIDs.map { ($0, 0) }, uniquingKeysWith: { _, _ in 0 })
        guard uses.count == newIDs.count else { return false }
        func count(_ id: String) { if uses[id] != nil { uses[id]! += 1 } }
        for upstream in upstreams { count(upstream.id) }
        for route in routes { count(route.id) }
        for consumer in consumers {
            count(consumer.id)
            for credential in consumer.credentials { count(credential.id) }
        }
        for policy in policies { count(policy.id) }
        return uses.values.allSatisfy { $0 == 1 }
    }

    /// Whether the changed routes conflict with no route and leave every route reachable. Two
    /// routes can only conflict, or one shadow the other, where they share a path's shape (or
    /// both have none): the routes sharing one with a changed route, and the routes sharing one
    /// with those (whose reachability counts all their keys), are checked together by the same
    /// rules as the whole document; no pair of the others can have changed.
    private func routesStayApart(_ changed: [Route]) -> Bool {
        guard !changed.isEmpty else { return true }
        // Places are compared by path shape first: it is what every other route is looked at
        // for, cheaply (no route but the few that share one is taken apart further).
        func shapes(_ route: Route) -> [String?] {
            route.paths.isEmpty ? [nil] : route.paths.map { $0.utf8.contains(UInt8(ascii: "{")) ? (try? RoutePath($0).shape) ?? $0 : $0 }
        }
        var near = Set(changed.flatMap(shapes))
        var candidates: [Route] = []
        var names: Set<String> = []
        for _ in 0..<2 {
            var reached: Set<String?> = []
            for route in routes
            where route.paths.isEmpty ? near.contains(nil) : route.paths.contains(where: { near.contains($0) || $0.utf8.contains(UInt8(ascii: "{")) })
            {
                let own = shapes(route)
                guard own.contains(where: near.contains), names.insert(route.name).inserted else { continue }
                candidates.append(route)
                reached.formUnion(own)
            }
            near = reached
        }
        // Sharing a path's shape but not a host keeps routes apart; the rules below see to it.
        do {
            try RouteConflicts.check(candidates)
            return true
        } catch {
            return false
        }
    }
}
