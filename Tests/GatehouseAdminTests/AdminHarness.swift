import Foundation
import GatehouseAdmin
import GatehouseModel
import GatehouseProxy
import GatehouseStore
import GatehouseTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging

/// An admin API over a real SQLite file in a temporary directory, driven in-process.
struct AdminHarness {
    struct Reply {
        let status: Int
        let headers: HTTPFields
        let json: JSONValue

        var version: Int? { headers[HTTPField.Name("Gatehouse-Config-Version")!].flatMap(Int.init) }
        var errorField: String? { json["error"]?["field"]?.stringValue }
        var errorCode: String? { json["error"]?["code"]?.stringValue }
        var errorMessage: String { json["error"]?["message"]?.stringValue ?? "" }
    }

    let directory: TemporaryDirectory
    let store: ConfigStore
    let api: AdminAPI

    /// As `serve` sets them.
    static var defaultOptions: AdminAPI.Options {
        var options = AdminAPI.Options()
        options.enforcedPolicyTypes = PolicyCatalog.enforcedTypes
        options.explain = Explainer.explain(_:body:)
        return options
    }

    init(options: AdminAPI.Options = AdminHarness.defaultOptions, newID: (@Sendable () -> String)? = nil) throws {
        directory = try TemporaryDirectory()
        // Certificate keys are sealed as `serve` seals them with GATEHOUSE_SECRET_KEY set.
        let sealer = try KeySealer(secret: "admin-harness-secret-key-0123456789abcdef")
        let admission = ConfigAdmission(sealer: sealer)
        store = try ConfigStore(path: directory.file("gatehouse.db"), admit: { document throws(ConfigError) in try admission.check(document) }, sealer: sealer)
        if let newID {
            api = try AdminAPI(store: store, options: options, newID: newID, logger: Logger(label: "test"))
        } else {
            api = try AdminAPI(store: store, options: options, logger: Logger(label: "test"))
        }
    }

    /// Runs `body` with a client for this API, then removes the database.
    func run(_ body: @Sendable (Client) async throws -> Void) async throws {
        defer { directory.remove() }
        let app = Application(router: api.router())
        try await app.test(.router) { client in
            try await body(Client(client: client))
        }
    }

    struct Client: Sendable {
        let client: any TestClientProtocol

        @discardableResult
        func call(
            _ method: HTTPRequest.Method, _ uri: String, _ json: JSONValue? = nil, headers: HTTPFields = [:], raw: [UInt8]? = nil
        ) async throws -> Reply {
            var headers = headers
            var body: ByteBuffer?
            if let bytes = raw ?? json?.canonicalBytes {
                body = ByteBuffer(bytes: bytes)
                headers[.contentType] = "application/json"
            }
            return try await client.execute(uri: uri, method: method, headers: headers, body: body) { response in
                let bytes = response.body.readableBytesView
                let json = bytes.isEmpty ? JSONValue.null : ((try? JSONValue.parse(Array(bytes))) ?? .string(String(decoding: bytes, as: UTF8.self)))
                return Reply(status: Int(response.status.code), headers: response.headers, json: json)
            }
        }

        /// Creates the fixtures most tests need: upstream `api` and route `recipes`.
        func seed() async throws {
            try await call(.post, "/upstreams", ["name": "api", "targets": [["target": "127.0.0.1:9000"]]])
            try await call(.post, "/routes", ["name": "recipes", "paths": ["/recipes"], "upstream": "api"])
        }
    }
}
