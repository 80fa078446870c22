import Foundation
import GatehouseModel
import GatehouseTestSupport
import HTTPTypes
import Synchronization
import Testing
import Yams

/// Keeps `Schema/admin-api.openapi.yaml` and the server in agreement: every documented operation,
/// called with its documented example against a fixture config, answers with its documented
/// success status and a JSON body; unknown entities answer with a documented 404.
@Suite struct OpenAPISpecTests {
    static let specPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Schema/admin-api.openapi.yaml").path

    struct Operation: Sendable, CustomTestStringConvertible {
        let method: HTTPRequest.Method
        let path: String
        let uri: String
        let body: JSONValue?
        let statuses: Set<Int>
        let keyed: Bool
        let declaresVersionHeader: Bool
        var testDescription: String { "\(method) \(path)" }
    }

    static func operations() throws -> [Operation] {
        let spec = try #require(try Yams.load(yaml: String(contentsOfFile: specPath, encoding: .utf8)) as? [String: Any])
        let responsesByName = (spec["components"] as? [String: Any])?["responses"] as? [String: Any] ?? [:]
        var operations: [Operation] = []
        for (path, value) in try #require(spec["paths"] as? [String: Any]) {
            let item = try #require(value as? [String: Any])
            var uri = path
            for parameter in item["parameters"] as? [[String: Any]] ?? [] {
                let name = try #require(parameter["name"] as? String)
                let example = try #require(parameter["x-test-example"], "path parameter \(name) of \(path) needs x-test-example")
                uri = uri.replacingOccurrences(of: "{\(name)}", with: "\(example)")
            }
            for (methodName, method) in [("get", HTTPRequest.Method.get), ("post", .post), ("put", .put), ("patch", .patch), ("delete", .delete)] {
                guard let operation = item[methodName] as? [String: Any] else { continue }
                let responses = try #require(operation["responses"] as? [String: Any])
                let example = (((operation["requestBody"] as? [String: Any])?["content"] as? [String: Any])?["application/json"] as? [String: Any])?[
                    "example"]
                let success = responses.keys.compactMap(Int.init).filter { $0 < 400 }.min() ?? 0
                var successResponse = responses[String(success)] as? [String: Any] ?? [:]
                if let reference = successResponse["$ref"] as? String {
                    successResponse = responsesByName[String(reference.split(separator: "/").last!)] as? [String: Any] ?? [:]
                }
                operations.append(
                    Operation(
                        method: method, path: path, uri: uri, body: example.map(json),
                        statuses: Set(responses.keys.compactMap(Int.init)), keyed: path.hasSuffix("{key}"),
                        declaresVersionHeader: (successResponse["headers"] as? [String: Any])?["Gatehouse-Config-Version"] != nil
                    ))
            }
        }
        return operations.sorted { "\($0.path) \($0.method)" < "\($1.path) \($1.method)" }
    }

    static func json(_ value: Any) -> JSONValue {
        switch value {
        case let value as Bool: .bool(value)
        case let value as Int: .int(value)
        case let value as Double: .double(value)
        case let value as String: .string(value)
        case let value as [Any]: .array(value.map(json))
        case let value as [String: Any]: .object(value.mapValues(json))
        default: .null
        }
    }

    /// Ids 1, 2, 3, … so the spec can name the fixture credential.
    final class SequentialIDs: Sendable {
        let next = Atomic(0)
        func make() -> String {
            let value = next.add(1, ordering: .relaxed).newValue
            return "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - String(value).count) + String(value)
        }
    }

    /// The spec's certificate examples stand for PEM no document can hold: a chain made here
    /// takes their place, one the fixture holds (`edge`) and one for the operation.
    static let certificates = Result { () throws -> (edge: TestChain.Leaf, other: TestChain.Leaf) in
        let chain = try TestChain()
        return (try chain.leaf(["edge.example.test"]), try chain.leaf(["shop.example.test"]))
    }

    static func withCertificate(_ body: JSONValue?) throws -> JSONValue? {
        guard case .object(var fields)? = body, fields["cert"] != nil else { return body }
        let leaf = try certificates.get().other
        fields["cert"] = .string(leaf.chainPEM)
        fields["key"] = .string(leaf.keyPEM)
        return .object(fields)
    }

    static func fixture(_ client: AdminHarness.Client) async throws {
        let edge = try certificates.get().edge
        let steps: [(String, JSONValue)] = [
            ("/upstreams", ["name": "api", "targets": [["target": "127.0.0.1:9000"]]]),
            ("/upstreams", ["name": "spare"]),
            ("/consumers", ["name": "web-app"]),
            ("/consumers/web-app/credentials", ["type": "key-auth"]),
            ("/admin-tokens", ["name": "auditor", "role": "viewer"]),
            ("/routes", ["name": "recipes", "paths": ["/recipes"], "upstream": "api"]),
            ("/routes", ["name": "spare-route", "paths": ["/spare"], "upstream": "api"]),
            (
                "/policies",
                ["name": "cors-web", "type": "cors", "route": "recipes", "enabled": false, "config": ["allow_origins": ["https://www.example.com"]]]
            ),
            ("/certificates", ["name": "edge", "cert": .string(edge.chainPEM), "key": .string(edge.keyPEM)]),
        ]
        for (uri, body) in steps {
            let reply = try await client.call(.post, uri, body)
            try #require(reply.status == 201, "fixture \(uri): \(reply.json)")
        }
    }

    @Test func theSpecDocumentsEveryResource() throws {
        let paths = Set(try Self.operations().map(\.path))
        for kind in EntityKind.allCases where kind != .credential {
            #expect(paths.contains("/\(kind.plural)"))
            #expect(paths.contains("/\(kind.plural)/{key}"))
        }
        let count = try Self.operations().count
        #expect(count == 46)
    }

    @Test func theSpecListsEveryPolicyType() throws {
        let spec = try #require(try Yams.load(yaml: String(contentsOfFile: Self.specPath, encoding: .utf8)) as? [String: Any])
        let schemas = (spec["components"] as? [String: Any])?["schemas"] as? [String: Any]
        let input = (schemas?["PolicyInput"] as? [String: Any])?["properties"] as? [String: Any]
        let types = (input?["type"] as? [String: Any])?["enum"] as? [String]
        #expect(Set(try #require(types)) == Set(PolicyType.allCases.map(\.rawValue)))
    }

    @Test(arguments: try operations())
    func everyDocumentedOperationAnswersAsDocumented(_ operation: Operation) async throws {
        let ids = SequentialIDs()
        try await AdminHarness(newID: { ids.make() }).run { client in
            try await Self.fixture(client)
            let reply = try await client.call(operation.method, operation.uri, try Self.withCertificate(operation.body))
            let success = operation.statuses.filter { $0 < 400 }.min()
            #expect(reply.status == success, "\(reply.json)")
            if reply.status != 204 {
                #expect(reply.json.objectValue != nil, "a JSON object body")
            }
            if operation.declaresVersionHeader {
                #expect(reply.version != nil, "Gatehouse-Config-Version")
            }
            if operation.keyed, operation.method != .put {
                let ghost = try await client.call(
                    operation.method, operation.uri.replacingOccurrences(of: operation.uri.split(separator: "/").last!, with: "ghost"),
                    try Self.withCertificate(operation.body)
                )
                #expect(ghost.status == 404)
                #expect(operation.statuses.contains(404))
                #expect(ghost.errorCode == "not_found")
            }
        }
    }
}
