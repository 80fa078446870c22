/// How entities point at each other by name: who refers to an entity, and keeping references
/// right when an entity is renamed.
extension ConfigDocument {
    /// Entities that refer to the `kind` entity named `name`, as "route 'x'" descriptions.
    public func referrers(of kind: EntityKind, named name: String) -> [String] {
        switch kind {
        case .upstream:
            return routes.filter { $0.upstream == name }.map { "route '\($0.name)'" }
        case .route:
            return policies.filter { $0.route == name }.map { "policy '\($0.name)'" }
        case .consumer:
            return policies.filter { $0.consumer == name || $0.config["anonymous"] == .string(name) }.map { "policy '\($0.name)'" }
        case .credential, .policy, .certificate:
            return []
        }
    }

    /// Rewrites every reference to the `kind` entity `old` so it names `new`.
    public mutating func rename(_ kind: EntityKind, from old: String, to new: String) {
        guard old != new else { return }
        switch kind {
        case .upstream:
            for index in routes.indices where routes[index].upstream == old { routes[index].upstream = new }
        case .route:
            for index in policies.indices where policies[index].route == old { policies[index].route = new }
        case .consumer:
            for index in policies.indices {
                if policies[index].consumer == old { policies[index].consumer = new }
                if case .object(var config) = policies[index].config, config["anonymous"] == .string(old) {
                    config["anonymous"] = .string(new)
                    policies[index].config = .object(config)
                }
            }
        case .credential, .policy, .certificate:
            break
        }
    }

    /// The index of the `T` addressed by id or name. An id wins: a name in the form of an id
    /// (refused for new names, but kept by databases older than that rule) never shadows one.
    public func index<T: ConfigEntity>(of type: T.Type, _ key: String) -> Int? {
        let entities = self[keyPath: T.all]
        return entities.firstIndex { $0.header.id == key } ?? entities.firstIndex { $0.header.name == key }
    }
}
