import GatehouseModel
import HTTPTypes
import Testing

/// Bad input gets the documented 4xx with a JSON error naming the field, and the config version
/// does not move.
@Suite struct BadInputTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let method: HTTPRequest.Method
        let uri: String
        let body: JSONValue?
        let status: Int
        let code: String
        let field: String?
        var testDescription: String { "\(method) \(uri) → \(status) \(field ?? "")" }
    }

    static let cases: [Case] = [
        Case(method: .post, uri: "/upstreams", body: ["name": "x", "colour": "red"], status: 400, code: "invalid", field: "colour"),
        Case(method: .post, uri: "/upstreams", body: ["name": 5], status: 400, code: "invalid", field: "name"),
        Case(method: .post, uri: "/upstreams", body: ["name": "Bad Name"], status: 400, code: "invalid", field: "name"),
        Case(
            method: .post, uri: "/upstreams", body: ["name": "x", "targets": [["target": "nohost"]]], status: 400, code: "invalid",
            field: "targets[0].target"),
        Case(method: .post, uri: "/upstreams", body: ["name": "x", "algorithm": "random"], status: 400, code: "invalid", field: "algorithm"),
        Case(method: .post, uri: "/upstreams", body: ["name": "api"], status: 409, code: "conflict", field: "name"),
        Case(
            method: .post, uri: "/upstreams", body: ["name": "x", "id": "00000000-0000-4000-8000-000000000001"], status: 400, code: "invalid",
            field: "id"),
        Case(method: .post, uri: "/upstreams", body: .array([]), status: 400, code: "invalid", field: nil),
        Case(
            method: .post, uri: "/routes", body: ["name": "r2", "paths": ["/x"], "upstream": "ghost"], status: 400, code: "invalid", field: "upstream"
        ),
        Case(
            method: .post, uri: "/routes", body: ["name": "r2", "paths": ["/recipes"], "upstream": "api"], status: 409, code: "conflict",
            field: "paths"),
        Case(
            method: .post, uri: "/routes", body: ["name": "r2", "paths": ["recipes"], "upstream": "api"], status: 400, code: "invalid",
            field: "paths[0]"),
        Case(
            method: .post, uri: "/routes", body: ["name": "r2", "methods": ["G T"], "upstream": "api"], status: 400, code: "invalid",
            field: "methods[0]"),
        Case(
            method: .post, uri: "/routes", body: ["name": "r2", "upstream": "api", "strip_path": "true"], status: 400, code: "invalid",
            field: "strip_path"),
        Case(method: .post, uri: "/policies", body: ["name": "p", "type": "magic"], status: 400, code: "invalid", field: "type"),
        Case(
            method: .post, uri: "/policies",
            body: ["name": "p", "type": "cors", "enabled": false, "route": "ghost", "config": ["allow_origins": ["*"]]], status: 400, code: "invalid",
            field: "route"),
        Case(
            method: .post, uri: "/policies",
            body: ["name": "p", "type": "cors", "enabled": false, "config": ["allow_origins": ["*"], "allow_credentials": true]], status: 400,
            code: "invalid", field: "config.allow_credentials"),
        Case(method: .post, uri: "/consumers/ghost/credentials", body: ["type": "key-auth"], status: 404, code: "not_found", field: nil),
        Case(method: .post, uri: "/consumers", body: ["name": "c", "credentials": []], status: 400, code: "invalid", field: "credentials"),
        Case(method: .delete, uri: "/upstreams/api", body: nil, status: 409, code: "referenced", field: nil),
        Case(method: .delete, uri: "/routes/nope", body: nil, status: 404, code: "not_found", field: nil),
        Case(method: .patch, uri: "/routes/recipes", body: ["upstream": "ghost"], status: 400, code: "invalid", field: "upstream"),
        Case(method: .get, uri: "/versions/99", body: nil, status: 404, code: "not_found", field: nil),
        Case(method: .get, uri: "/versions/x", body: nil, status: 400, code: "invalid", field: "n"),
        Case(method: .get, uri: "/no-such-endpoint", body: nil, status: 404, code: "not_found", field: nil),
    ]

    @Test(arguments: cases)
    func badInputIsRefusedAndTheVersionStays(_ test: Case) async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            let reply = try await client.call(test.method, test.uri, test.body)
            #expect(reply.status == test.status, "\(reply.json)")
            #expect(reply.errorCode == test.code)
            #expect(reply.errorField == test.field)
            #expect(!reply.errorMessage.isEmpty)
            #expect(try await client.call(.get, "/").json["config_version"] == 2)
        }
    }

    @Test func malformedJSONIsA400() async throws {
        try await AdminHarness().run { client in
            let reply = try await client.call(.post, "/upstreams", raw: Array("{\"name\": ".utf8))
            #expect(reply.status == 400)
            #expect(reply.errorMessage.contains("not valid JSON"))
        }
    }

    @Test func bodiesOverOneMebibyteAre413() async throws {
        try await AdminHarness().run { client in
            let big = JSONValue.object(["name": "x", "tags": .array(Array(repeating: .string(String(repeating: "t", count: 100)), count: 11_000))])
            let reply = try await client.call(.post, "/upstreams", big)
            #expect(reply.status == 413)
            #expect(reply.errorCode == "too_large")
            #expect(try await client.call(.get, "/").json["config_version"] == 0)
        }
    }

    @Test func ifMatchMismatchIs412() async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            var stale: HTTPFields = [:]
            stale[.ifMatch] = "\"1\""
            let refused = try await client.call(.post, "/upstreams", ["name": "b"], headers: stale)
            #expect(refused.status == 412)
            var current: HTTPFields = [:]
            current[.ifMatch] = "\"2\""
            #expect(try await client.call(.post, "/upstreams", ["name": "b"], headers: current).status == 201)
        }
    }
}
