import GatehouseModel

/// The entities an import writes, as declarative JSON, each with the place in a spec it comes
/// from, so every later problem (a clash, an admission error) can point there.
struct ImportedEntities: Sendable {
    struct Origin: Sendable, Hashable, CustomStringConvertible {
        var file: String
        var pointer: JSONPointer
        var description: String { "\(file)\(pointer)" }
    }

    struct Entity: Sendable {
        var name: String
        var value: JSONValue
        var origin: Origin
    }

    private(set) var upstreams: [String: Entity] = [:]
    private(set) var routes: [String: Entity] = [:]
    private(set) var policies: [String: Entity] = [:]

    /// Adds an entity; a name taken by another one is a problem naming both places (the same
    /// upstream added again with the same value is no problem: operations share it).
    mutating func add(_ kind: EntityKind, _ entity: Entity) -> ImportProblem? {
        let existing: Entity?
        switch kind {
        case .upstream: existing = upstreams[entity.name]
        case .route: existing = routes[entity.name]
        default: existing = policies[entity.name]
        }
        if let existing {
            if kind == .upstream, existing.value == entity.value { return nil }
            return ImportProblem(
                .error, file: entity.origin.file, pointer: entity.origin.pointer,
                "gets the \(kind.singular) name '\(entity.name)', which \(existing.origin) has too; set x-gatehouse.name on one of them")
        }
        switch kind {
        case .upstream: upstreams[entity.name] = entity
        case .route: routes[entity.name] = entity
        default: policies[entity.name] = entity
        }
        return nil
    }

    /// Where the entity named `name` comes from, of whichever kind.
    func origin(of name: String) -> Origin? {
        routes[name]?.origin ?? policies[name]?.origin ?? upstreams[name]?.origin
    }

    var routeCount: Int { routes.count }

    /// The declarative document, every list sorted by name.
    func document() -> JSONValue {
        func list(_ entities: [String: Entity]) -> JSONValue { .array(entities.keys.sorted().map { entities[$0]!.value }) }
        var fields: [String: JSONValue] = ["format_version": .int(ConfigDocument.formatVersion)]
        if !upstreams.isEmpty { fields["upstreams"] = list(upstreams) }
        fields["routes"] = list(routes)
        if !policies.isEmpty { fields["policies"] = list(policies) }
        return .object(fields)
    }
}
