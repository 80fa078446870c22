import GatehouseModel
import GatehouseStore
import HTTPTypes
import Hummingbird

/// The whole config as one document: `GET /config` reads it, `PUT /config` replaces it (or the
/// part carrying `?select_tags=`) in one version, or shows the change with `?dry_run=true`.
extension AdminAPI {
    func addConfigRoutes(to router: Router<AdminContext>) {
        router.get("/config") { request, context in
            let snapshot = store.current.snapshot
            if let match = request.headers[.ifNoneMatch], match == "\"\(snapshot.version)\"" {
                var headers: HTTPFields = [.eTag: "\"\(snapshot.version)\""]
                headers[.configVersion] = String(snapshot.version)
                return Response(status: .notModified, headers: headers)
            }
            return Self.document(snapshot, hidingCredentialHashes: context.caller.role < .editor)
        }

        router.put("/config") { request, context in
            var request = request
            let part = try ConfigDocument.read(try await request.jsonBody(limit: options.configBodyLimit))
            for policy in part.policies { try admit(policy) }
            let tags = try Self.selectedTags(request)
            let newID = newID

            // Entities without ids keep those of same-named entities at the moment of the write.
            func replaced(_ document: ConfigDocument) throws -> ConfigDocument {
                var part = part
                part.adoptIdentities(from: document, newID: newID)
                var result = try document.replacingScope(tags, with: part)
                result.sort()
                try result.validate()
                return result
            }

            if try Self.flag(request, "dry_run") {
                let current = store.current.snapshot
                if let expected = try request.ifMatchVersion(), expected != current.version {
                    throw ConfigError(
                        code: .preconditionFailed, message: "If-Match names version \(expected), but the current version is \(current.version)")
                }
                let new = try store.prepared(try replaced(current.document), since: current.document)
                let diff = ConfigDiff(from: current.document, to: new)
                return AdminResponse.json(["dry_run": true, "version": .int(current.version), "changes": diff.json()], version: current.version)
            }
            let (diff, snapshot) = try await commit(request, context, skipIfUnchanged: true) { document in
                let new = try replaced(document)
                let diff = ConfigDiff(from: document, to: new)
                document = new
                return diff
            }
            return AdminResponse.json(
                ["dry_run": false, "version": .int(snapshot.version), "hash": .string(snapshot.hash), "changes": diff.json()],
                version: snapshot.version
            )
        }
    }

    private static func selectedTags(_ request: Request) throws(ConfigError) -> Set<String> {
        guard let text = request.uri.queryParameters.get("select_tags") else { return [] }
        let tags = Set(text.split(separator: ",").map(String.init))
        guard !tags.isEmpty else { throw .invalid("must name at least one tag", field: "select_tags") }
        return tags
    }

    static func flag(_ request: Request, _ name: String) throws(ConfigError) -> Bool {
        switch request.uri.queryParameters.get(name) {
        case nil, "false", "0": false
        case "true", "1", "": true
        default: throw .invalid("must be true or false", field: name)
        }
    }
}
