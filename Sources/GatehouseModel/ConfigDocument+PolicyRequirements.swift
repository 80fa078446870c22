/// What some policies need of the routes they run on, checked over the whole document: an
/// `acl` needs an authentication policy before it (without one it could only refuse every
/// request, or never apply), and a transform's `$(path.NAME)` needs a route whose every path
/// captures NAME. A route, policy or scope change that breaks either is refused, naming the
/// policy and the route.
extension ConfigDocument {
    func checkPolicyRequirements() throws(ConfigError) {
        let enabled = policies.filter { $0.enabled && $0.consumer == nil }
        guard enabled.contains(where: { $0.type.needsRouteCheck }) else { return }
        let global = enabled.filter { $0.route == nil }
        let byRoute = Dictionary(grouping: enabled.filter { $0.route != nil }, by: { $0.route! })
        let globalAuth = global.contains { $0.type.authenticates }
        for route in routes {
            let own = byRoute[route.name] ?? []
            // As the data plane picks them: the route's own policy of a type, else the global one.
            func effective(_ type: PolicyType) -> Policy? {
                own.filter { $0.type == type }.min { $0.name < $1.name } ?? global.filter { $0.type == type }.min { $0.name < $1.name }
            }
            if let acl = effective(.acl), !globalAuth, !own.contains(where: { $0.type.authenticates }) {
                throw .invalid(
                    "policy '\(acl.name)' (acl) runs on route '\(route.name)', which has no authentication policy: without one no consumer is known, so the acl could only refuse every request (allow) or never apply (deny); add an authentication policy (key-auth, jwt, basic-auth, oauth2-introspection) to the route or to every route",
                    field: acl.route == nil ? "type" : "route")
            }
            for type in [PolicyType.requestTransformer, .responseTransformer] {
                guard let policy = effective(type) else { continue }
                for (name, field) in TransformerConfigRules.pathParameters(in: policy.config) {
                    guard !route.paths.isEmpty else {
                        throw .invalid(
                            "policy '\(policy.name)' uses $(path.\(name)) and runs on route '\(route.name)', which has no path template to capture it",
                            field: field)
                    }
                    for path in route.paths where !((try? RoutePath(path))?.parameterNames.contains(name) ?? false) {
                        throw .invalid(
                            "policy '\(policy.name)' uses $(path.\(name)) and runs on route '\(route.name)', whose path '\(path)' does not capture {\(name)}",
                            field: field)
                    }
                }
            }
        }
    }
}

extension PolicyType {
    /// Types whose policies need something of every route they run on.
    var needsRouteCheck: Bool { self == .acl || self == .requestTransformer || self == .responseTransformer }
}
