/// Giving entities of a document without ids the identity they already have: the same kind and
/// name (credentials: the same consumer and secret) keep their id, anything new gets a fresh one.
extension ConfigDocument {
    public mutating func adoptIdentities(from current: ConfigDocument, newID: () -> String) {
        Self.adopt(&upstreams, current.upstreams, newID)
        Self.adopt(&routes, current.routes, newID)
        Self.adopt(&consumers, current.consumers, newID)
        Self.adopt(&policies, current.policies, newID)
        Self.adopt(&certificates, current.certificates, newID)
        let currentCredentials = Dictionary(
            current.consumers.map { ($0.name, Dictionary($0.credentials.map { ($0.uniqueKey, $0.id) }, uniquingKeysWith: { a, _ in a })) },
            uniquingKeysWith: { a, _ in a }
        )
        for index in consumers.indices {
            let known = currentCredentials[consumers[index].name] ?? [:]
            for position in consumers[index].credentials.indices where consumers[index].credentials[position].id.isEmpty {
                let credential = consumers[index].credentials[position]
                consumers[index].credentials[position].id = known[credential.uniqueKey] ?? newID()
            }
        }
        sort()
    }

    private static func adopt<T: ConfigEntity>(_ entities: inout [T], _ current: [T], _ newID: () -> String) {
        let ids = Dictionary(current.map { ($0.name, $0.id) }, uniquingKeysWith: { a, _ in a })
        for index in entities.indices where entities[index].header.id.isEmpty {
            entities[index].header.id = ids[entities[index].name] ?? newID()
        }
    }
}
