/// Rules that span entities: unique names and ids, references that resolve, no two routes
/// matching the same requests, credentials unique per type.
extension ConfigDocument {
    public func validate() throws(ConfigError) {
        try unique(upstreams.map(\.header), .upstream)
        try unique(routes.map(\.header), .route)
        try unique(consumers.map(\.header), .consumer)
        try unique(policies.map(\.header), .policy)
        try unique(certificates.map(\.header), .certificate)
        try validateCertificates()
        var ids: Set<String> = []
        let allIDs =
            upstreams.map(\.id) + routes.map(\.id) + consumers.map(\.id) + policies.map(\.id) + certificates.map(\.id)
            + consumers.flatMap { $0.credentials.map(\.id) }
        if let missing = allIDs.first(where: { !EntityName.isUUID($0) }) {
            throw .invalid("'\(missing)' is not an entity id", field: "id")
        }
        for id in allIDs where !ids.insert(id).inserted {
            throw ConfigError(code: .conflict, message: "id \(id) is used by two entities", field: "id")
        }

        var customIDs: [String: String] = [:]
        for consumer in consumers {
            if let customID = consumer.customID, let other = customIDs.updateValue(consumer.name, forKey: customID) {
                throw ConfigError(code: .conflict, message: "consumer '\(other)' already has custom_id '\(customID)'", field: "custom_id")
            }
        }

        let upstreamNames = Set(upstreams.map(\.name))
        let routeNames = Set(routes.map(\.name))
        let consumerNames = Set(consumers.map(\.name))
        for route in routes where !upstreamNames.contains(route.upstream) {
            throw .invalid("route '\(route.name)': no upstream named '\(route.upstream)'", field: "upstream")
        }
        for policy in policies {
            if let route = policy.route, !routeNames.contains(route) {
                throw .invalid("policy '\(policy.name)': no route named '\(route)'", field: "route")
            }
            if let consumer = policy.consumer, !consumerNames.contains(consumer) {
                throw .invalid("policy '\(policy.name)': no consumer named '\(consumer)'", field: "consumer")
            }
            if case .string(let anonymous)? = policy.config["anonymous"], !consumerNames.contains(anonymous) {
                throw .invalid("policy '\(policy.name)': no consumer named '\(anonymous)'", field: "config.anonymous")
            }
        }
        // One scope (global, a route, a consumer, or both) takes one enabled policy of a type
        // that does not stack: two would leave which one runs to chance.
        var stacked: [String: Int] = [:]
        for policy in policies where policy.enabled && policy.type.stacks {
            let scope = "\(policy.type.rawValue)|\(policy.route ?? "")|\(policy.consumer ?? "")"
            stacked[scope, default: 0] += 1
            // Each runs on every request of the scope: a few windows, not thousands.
            guard stacked[scope]! <= PolicyType.maxStacked else {
                throw ConfigError(
                    code: .conflict,
                    message:
                        "policy '\(policy.name)': at most \(PolicyType.maxStacked) enabled \(policy.type.rawValue) policies may stack for \(policy.scopeDescription)",
                    field: "type")
            }
        }
        var scopes: [String: String] = [:]
        for policy in policies where policy.enabled && !policy.type.stacks {
            let scope = "\(policy.type.rawValue)|\(policy.route ?? "")|\(policy.consumer ?? "")"
            if let other = scopes.updateValue(policy.name, forKey: scope) {
                throw ConfigError(
                    code: .conflict,
                    message:
                        "policies '\(other)' and '\(policy.name)' are both enabled \(policy.type.rawValue) policies for \(policy.scopeDescription)",
                    field: "type")
            }
        }
        try RouteConflicts.check(routes)
        try checkPolicyRequirements()

        var secrets: [String: String] = [:]
        for consumer in consumers {
            for credential in consumer.credentials {
                if let other = secrets.updateValue(consumer.name, forKey: credential.uniqueKey) {
                    let what = credential.type == "key-auth" ? "this key" : "this username"
                    throw ConfigError(code: .conflict, message: "consumer '\(other)' already has a \(credential.type) credential with \(what)")
                }
            }
        }
    }

    /// Names given since `old` must not have the form of an id: `/upstreams/{id-or-name}` and
    /// the references between entities take either, and a name that is another entity's id
    /// would address the wrong one. Names `old` already had stay valid, so a database written
    /// before this rule still opens, serves and takes writes.
    public func validateNewNames(since old: ConfigDocument) throws(ConfigError) {
        func check(_ headers: [EntityHeader], _ before: [EntityHeader], _ kind: EntityKind) throws(ConfigError) {
            let known = Set(before.map(\.name))
            if let header = headers.first(where: { EntityName.isUUID($0.name) && !known.contains($0.name) }) {
                throw .invalid(
                    "\(kind.singular) '\(header.name)': a name may not have the form of an id (a UUID); ids and names share /\(kind.plural)/{id-or-name}",
                    field: "name")
            }
        }
        try check(upstreams.map(\.header), old.upstreams.map(\.header), .upstream)
        try check(routes.map(\.header), old.routes.map(\.header), .route)
        try check(consumers.map(\.header), old.consumers.map(\.header), .consumer)
        try check(policies.map(\.header), old.policies.map(\.header), .policy)
    }

    private func unique(_ headers: [EntityHeader], _ kind: EntityKind) throws(ConfigError) {
        var seen: Set<String> = []
        for header in headers where !seen.insert(header.name).inserted {
            throw ConfigError(code: .conflict, message: "\(kind.singular) '\(header.name)' already exists", field: "name")
        }
    }
}
