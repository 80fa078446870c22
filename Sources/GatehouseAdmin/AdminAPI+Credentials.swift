import GatehouseModel
import GatehouseStore
import HTTPTypes
import Hummingbird

/// `/consumers/{c}/credentials`: created with a clear secret that is shown once, then only
/// ever stored and listed without it. Rotate by creating a new credential and deleting the old.
extension AdminAPI {
    func addCredentialRoutes(to router: Router<AdminContext>) {
        let base = RouterPath("/consumers/:key/credentials")
        let item = RouterPath("/consumers/:key/credentials/:id")

        router.get(base) { _, context in
            let state = store.current
            let consumer = try Self.consumer(context, in: state.snapshot.document)
            let items = consumer.credentials.map { render($0.publicJSON(consumer: consumer.name), id: $0.id) }
            return AdminResponse.json(["data": .array(items)], version: state.snapshot.version)
        }

        router.post(base) { request, context in
            let key = try context.parameters.entityKey()
            var request = request
            let body = Self.withoutReadOnlyFields(try await request.jsonBody(limit: options.entityBodyLimit))
            // Hash outside the store's lock: password hashing is deliberately slow.
            let (credential, clearKey) = try Credential.create(body, id: newID(), randomKey: RandomKey.make)
            let (consumerName, snapshot) = try await commit(request, context) { document throws -> String in
                guard let index = document.index(of: Consumer.self, key) else { throw ConfigError.notFound(.consumer, key) }
                document.consumers[index].credentials.append(credential)
                return document.consumers[index].name
            }
            var json = render(credential.publicJSON(consumer: consumerName), id: credential.id).objectValue!
            if let clearKey { json["key"] = .string(clearKey) }
            return AdminResponse.json(.object(json), status: .created, version: snapshot.version)
        }

        router.get(item) { _, context in
            let state = store.current
            let consumer = try Self.consumer(context, in: state.snapshot.document)
            let id = try context.parameters.credentialID()
            guard let credential = consumer.credentials.first(where: { $0.id == id }) else {
                throw ConfigError(code: .notFound, message: "consumer '\(consumer.name)' has no credential \(id)")
            }
            return AdminResponse.json(render(credential.publicJSON(consumer: consumer.name), id: id), version: state.snapshot.version)
        }

        router.delete(item) { request, context in
            let key = try context.parameters.entityKey()
            let id = try context.parameters.credentialID()
            let (_, snapshot) = try await commit(request, context) { document throws in
                guard let index = document.index(of: Consumer.self, key) else { throw ConfigError.notFound(.consumer, key) }
                guard let position = document.consumers[index].credentials.firstIndex(where: { $0.id == id }) else {
                    throw ConfigError(code: .notFound, message: "consumer '\(document.consumers[index].name)' has no credential \(id)")
                }
                document.consumers[index].credentials.remove(at: position)
            }
            var headers: HTTPFields = [:]
            headers[.configVersion] = String(snapshot.version)
            return Response(status: .noContent, headers: headers)
        }
    }

    private static func consumer(_ context: AdminContext, in document: ConfigDocument) throws -> Consumer {
        let key = try context.parameters.entityKey()
        guard let index = document.index(of: Consumer.self, key) else { throw ConfigError.notFound(.consumer, key) }
        return document.consumers[index]
    }
}

/// Keys generated when a key-auth credential is created without one: 32 random bytes, hex.
enum RandomKey {
    @Sendable static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let value = generator.next() as UInt64
            let text = String(value, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }.joined()
    }
}
