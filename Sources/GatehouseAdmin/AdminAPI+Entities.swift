import GatehouseModel
import GatehouseStore
import HTTPTypes
import Hummingbird

/// CRUD for upstreams, routes, consumers and policies: one generic set of handlers.
extension AdminAPI {
    func addEntityRoutes<T: ConfigEntity>(_ type: T.Type, to router: Router<AdminContext>) {
        let base = RouterPath("/\(T.kind.plural)")
        let item = RouterPath("/\(T.kind.plural)/:key")

        router.get(base) { request, _ in
            let state = store.current
            let tags = request.requiredTags
            let items = state.snapshot.document[keyPath: T.all]
                .filter { tags.isSubset(of: $0.header.tags) }
                .map { render($0.apiJSON(), id: $0.id) }
            return AdminResponse.json(["data": .array(items)], version: state.snapshot.version)
        }

        router.post(base) { request, context in
            var request = request
            let body = Self.withoutReadOnlyFields(try await request.jsonBody(limit: options.entityBodyLimit))
            let id = newID()
            let (entity, snapshot) = try await commit(request, context) { document throws -> T in
                let entity = try T.read(body, id: id, path: "")
                try admit(entity)
                document[keyPath: T.all].append(entity)
                return entity
            }
            return AdminResponse.json(render(entity.apiJSON(), id: entity.id), status: .created, version: snapshot.version)
        }

        router.get(item) { _, context in
            let key = try context.parameters.entityKey()
            let state = store.current
            guard let index = state.snapshot.document.index(of: T.self, key) else { throw ConfigError.notFound(T.kind, key) }
            let entity = state.snapshot.document[keyPath: T.all][index]
            return AdminResponse.json(render(entity.apiJSON(), id: entity.id), version: state.snapshot.version)
        }

        router.put(item) { request, context in
            let key = try context.parameters.entityKey()
            var request = request
            let body = Self.withoutReadOnlyFields(try await request.jsonBody(limit: options.entityBodyLimit))
            let newID = newID()
            let ((entity, created), snapshot) = try await commit(request, context) { document throws -> (T, Bool) in
                if let index = document.index(of: T.self, key) {
                    let old = document[keyPath: T.all][index]
                    return (try replace(&document, at: index, with: Self.filling(body, name: old.name)), false)
                }
                guard EntityName.isValid(key), !EntityName.isUUID(key) else { throw ConfigError.notFound(T.kind, key) }
                guard body["name"] == nil || body["name"] == .string(key) else {
                    throw ConfigError.invalid("must match the name in the URL ('\(key)') when PUT creates an entity", field: "name")
                }
                let entity = try T.read(Self.filling(body, name: key), id: newID, path: "")
                try admit(entity)
                document[keyPath: T.all].append(entity)
                return (entity, true)
            }
            return AdminResponse.json(render(entity.apiJSON(), id: entity.id), status: created ? .created : .ok, version: snapshot.version)
        }

        router.patch(item) { request, context in
            let key = try context.parameters.entityKey()
            var request = request
            let patch = Self.withoutReadOnlyFields(try await request.jsonBody(limit: options.entityBodyLimit))
            guard patch.objectValue != nil else { throw ConfigError.invalid("a PATCH body is a JSON object of the fields to change") }
            let (entity, snapshot) = try await commit(request, context) { document throws -> T in
                guard let index = document.index(of: T.self, key) else { throw ConfigError.notFound(T.kind, key) }
                let old = document[keyPath: T.all][index]
                return try replace(&document, at: index, with: old.apiJSON().merging(patch: patch))
            }
            return AdminResponse.json(render(entity.apiJSON(), id: entity.id), version: snapshot.version)
        }

        router.delete(item) { request, context in
            let key = try context.parameters.entityKey()
            let (_, snapshot) = try await commit(request, context) { document throws in
                guard let index = document.index(of: T.self, key) else { throw ConfigError.notFound(T.kind, key) }
                let name = document[keyPath: T.all][index].name
                let referrers = document.referrers(of: T.kind, named: name)
                guard referrers.isEmpty else {
                    throw ConfigError(
                        code: .referenced,
                        message: "\(T.kind.singular) '\(name)' is still used by \(referrers.joined(separator: ", ")); change or delete those first"
                    )
                }
                document[keyPath: T.all].remove(at: index)
            }
            var headers: HTTPFields = [:]
            headers[.configVersion] = String(snapshot.version)
            return Response(status: .noContent, headers: headers)
        }
    }

    /// Replaces the entity at `index` with one read from `body`, keeping its id and renaming
    /// references to it when its name changed.
    private func replace<T: ConfigEntity>(_ document: inout ConfigDocument, at index: Int, with body: JSONValue) throws(ConfigError) -> T {
        let old = document[keyPath: T.all][index]
        var entity = try T.read(body, id: old.id, path: "")
        try admit(entity)
        entity.keepManagedElsewhere(from: old)
        document[keyPath: T.all][index] = entity
        document.rename(T.kind, from: old.name, to: entity.name)
        return entity
    }

    /// Refuses what the data planes could not serve: an enabled policy of a type they do not enforce.
    func admit(_ entity: some ConfigEntity) throws(ConfigError) {
        guard let policy = entity as? Policy, policy.enabled, !options.enforcedPolicyTypes.contains(policy.type) else { return }
        throw .invalid(
            "policies of type \(policy.type.rawValue) are not enforced by this Gatehouse version yet; it refuses to serve traffic without them, so create the policy with \"enabled\": false",
            field: "enabled"
        )
    }

    /// `created_at` and `updated_at` are kept by the server; a client may send back what it read.
    static func withoutReadOnlyFields(_ body: JSONValue) -> JSONValue {
        guard case .object(var fields) = body else { return body }
        fields["created_at"] = nil
        fields["updated_at"] = nil
        return .object(fields)
    }

    static func filling(_ body: JSONValue, name: String) -> JSONValue {
        guard case .object(var fields) = body, fields["name"] == nil else { return body }
        fields["name"] = .string(name)
        return .object(fields)
    }
}
