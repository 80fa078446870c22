import GatehouseModel
import GatehouseStore
import HTTPTypes
import Hummingbird

extension HTTPField.Name {
    static let configHash = HTTPField.Name("Gatehouse-Config-Hash")!
}

/// The history: `/versions`, diffs and rollbacks.
extension AdminAPI {
    func addVersionRoutes(to router: Router<AdminContext>) {
        router.get("/data-planes") { _, _ in
            let current = store.current.snapshot.version
            return AdminResponse.json(["data": options.dataPlanes(current), "current": .int(current)], version: current)
        }
        router.get("/versions") { request, _ in
            let limit = try request.intQuery("limit", in: 1...1000) ?? 100
            let before = try request.intQuery("before", in: 1...Int.max)
            let versions = try store.versions(limit: limit, before: before)
            let data: [JSONValue] = versions.map { info in
                [
                    "version": .int(info.version), "hash": .string(info.hash), "created_at": .int(info.createdAt),
                    "summary": .string(info.summary), "changes": info.changes, "pruned": .bool(info.pruned),
                    "author": .string(info.author.name), "address": .string(info.author.address), "via": .string(info.author.via),
                ]
            }
            let current = store.current.snapshot.version
            var body: [String: JSONValue] = ["data": .array(data), "current": .int(current)]
            body["next"] = versions.count == limit ? .string("/versions?limit=\(limit)&before=\(versions.last!.version)") : .null
            return AdminResponse.json(.object(body), version: current)
        }

        // Served from the stored canonical bytes, re-indented: no document is built, so an old
        // version of a large config answers about as fast as the current one (but for one with
        // certificates, or with credentials asked for by a viewer: `StoredDocument.publicJSON`).
        router.get("/versions/:n") { _, context in
            let hides = context.caller.role < .editor
            let version = try versionNumber(context, "n")
            guard let document = try store.document(version: version) else { throw noVersion(version) }
            var response = Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try document.publicJSON(hidingCredentialHashes: hides))))
            response.headers[.configVersion] = String(version)
            response.headers[.eTag] = "\"\(version)\""
            response.headers[.configHash] = document.hash
            return response
        }

        router.get("/versions/:n/diff/:b") { _, context in
            let a = try snapshot(context, "n")
            let b = try snapshot(context, "b")
            let diff = ConfigDiff(from: a.document, to: b.document)
            return AdminResponse.json(
                ["from": .int(a.version), "to": .int(b.version), "from_hash": .string(a.hash), "to_hash": .string(b.hash), "changes": diff.json()],
                version: store.current.snapshot.version
            )
        }

        router.post("/versions/:n/rollback") { request, context in
            let target = try snapshot(context, "n")
            let (_, snapshot) = try await commit(request, context, summary: "rollback to version \(target.version)") { document throws in
                document = target.document
            }
            return AdminResponse.json(
                ["version": .int(snapshot.version), "hash": .string(snapshot.hash), "rolled_back_to": .int(target.version)],
                status: .created, version: snapshot.version
            )
        }
    }

    /// Version n's snapshot; a pruned one is a 410 (`StoreError.pruned`).
    private func snapshot(_ context: AdminContext, _ parameter: String) throws -> Snapshot {
        let version = try versionNumber(context, parameter)
        guard let snapshot = try store.snapshot(version: version) else { throw noVersion(version) }
        return snapshot
    }

    private func versionNumber(_ context: AdminContext, _ parameter: String) throws -> Int {
        let text = try context.parameters.require(parameter)
        guard let version = Int(text), version >= 0 else { throw ConfigError.invalid("'\(text)' is not a version number", field: parameter) }
        return version
    }

    private func noVersion(_ version: Int) -> ConfigError {
        ConfigError(code: .notFound, message: "no version \(version); the current version is \(store.current.snapshot.version)")
    }

    /// - Parameter hidingCredentialHashes: for a viewer, who may read the config but not write it.
    static func document(_ snapshot: Snapshot, hidingCredentialHashes: Bool = false) -> Response {
        var response = AdminResponse.json(
            snapshot.document.publicJSON(hidingCredentialHashes: hidingCredentialHashes), version: snapshot.version, etag: snapshot.version)
        response.headers[.configHash] = snapshot.hash
        return response
    }
}
