import GatehouseHTTP1
import GatehouseModel
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// The compiled validator on its own: configs as admission normalizes them, requests as heads.
@Suite struct RequestValidationPolicyTests {
    /// A policy from `config`, normalized as the control plane stores it.
    func policy(_ config: JSONValue) throws -> RequestValidationPolicy {
        let stored = try Policy.read(["name": "v", "type": "request-validation", "config": config])
        return try RequestValidationPolicy(name: "v", config: stored.config)
    }

    func refusal(_ check: () throws -> Void) -> RequestValidationPolicy.Refusal? {
        do {
            try check()
            return nil
        } catch let refusal as RequestValidationPolicy.Refusal {
            return refusal
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    static let parameters: JSONValue = [
        "parameters": [
            ["name": "limit", "in": "query", "schema": ["type": "integer", "minimum": 1, "maximum": 100]],
            ["name": "kind", "in": "query", "required": true, "schema": ["type": "string", "enum": ["cat", "dog"]]],
            ["name": "X-Trace", "in": "header", "schema": ["type": "string", "pattern": "^[a-f0-9]{8}$"]],
            ["name": "id", "in": "path", "schema": ["type": "integer", "exclusiveMinimum": 0]],
            ["name": "ids", "in": "query", "schema": ["type": "array", "items": ["type": "integer"], "maxItems": 2]],
        ]
    ]

    func checkParameters(_ policy: RequestValidationPolicy, query: String?, headers: [(String, String)] = [], id: Substring = "7") throws {
        try policy.checkParameters(headers: RequestFields(headers), query: query.map { Substring($0) }, captures: [(name: "id", value: id)])
    }

    @Test func acceptsParametersTheSchemasAllow() throws {
        let policy = try policy(Self.parameters)
        try checkParameters(policy, query: "kind=cat&limit=100&ids=1&ids=2", headers: [("x-trace", "0123abcd")])
        try checkParameters(policy, query: "kind=d%6Fg")
    }

    @Test func namesTheParameterThatIsWrong() throws {
        let policy = try policy(Self.parameters)
        let cases: [(String?, [(String, String)], Substring, String, String, String)] = [
            (nil, [], "7", "query", "kind", "query parameter 'kind' is required"),
            ("kind=bird", [], "7", "query", "kind", "query parameter 'kind' must be one of \"cat\", \"dog\""),
            ("kind=cat&limit=0", [], "7", "query", "limit", "query parameter 'limit' must be at least 1"),
            ("kind=cat&limit=ten", [], "7", "query", "limit", "query parameter 'limit' must be an integer, got string"),
            ("kind=cat&limit=1.5", [], "7", "query", "limit", "query parameter 'limit' must be an integer, got string"),
            ("kind=cat", [("X-Trace", "XYZ")], "7", "header", "x-trace", "header parameter 'x-trace' must match the pattern ^[a-f0-9]{8}$"),
            ("kind=cat", [], "0", "path", "id", "path parameter 'id' must be greater than 0"),
            ("kind=cat&ids=1&ids=2&ids=3", [], "7", "query", "ids", "query parameter 'ids' must have at most 2 items"),
            ("kind=cat&ids=1&ids=x", [], "7", "query", "ids", "query parameter 'ids' must be an integer, got string (item 1)"),
            ("kind=%zz", [], "7", "query", "kind", "query parameter 'kind' is not percent-encoded correctly"),
        ]
        for (query, headers, id, location, name, message) in cases {
            let refused = refusal { try checkParameters(policy, query: query, headers: headers, id: id) }
            #expect(refused?.status == .badRequest, "\(message)")
            #expect(refused?.message == message)
            #expect(refused?.fields.map { "\($0.0)=\($0.1)" } == ["in=\(location)", "parameter=\(name)"])
        }
    }

    static let body: JSONValue = [
        "body": [
            "required": true, "max_bytes": 256,
            "schema": [
                "type": "object", "required": ["name"], "additionalProperties": false,
                "properties": [
                    "name": ["type": "string", "minLength": 1, "maxLength": 5],
                    "age": ["type": ["integer", "null"], "minimum": 0],
                    "tags": ["type": "array", "items": ["type": "string", "enum": ["a", "b"]]],
                    "owner": ["type": "object", "properties": ["email": ["type": "string", "pattern": "@"]]],
                ],
            ],
        ]
    ]

    @Test func acceptsBodiesTheSchemaAllows() throws {
        let policy = try policy(Self.body)
        for text in [#"{"name":"Rex"}"#, #"{"name":"Rex","age":null,"tags":["a","b"],"owner":{"email":"a@b"}}"#, #"{"name":"Ré","age":3.0}"#] {
            try policy.checkBody(Array(text.utf8))
        }
    }

    @Test func namesTheBodysJSONPointer() throws {
        let policy = try policy(Self.body)
        let cases: [(String, String, String)] = [
            (#"[]"#, "", "body must be an object, got array"),
            (#"{}"#, "/name", "body /name is required"),
            (#"{"name":""}"#, "/name", "body /name must be at least 1 characters long"),
            (#"{"name":"Rexxxx"}"#, "/name", "body /name must be at most 5 characters long"),
            (#"{"name":"Rex","age":-1}"#, "/age", "body /age must be at least 0"),
            (#"{"name":"Rex","age":1.5}"#, "/age", "body /age must be an integer or null, got number"),
            (#"{"name":"Rex","tags":["a","c"]}"#, "/tags/1", "body /tags/1 must be one of \"a\", \"b\""),
            (#"{"name":"Rex","owner":{"email":"nobody"}}"#, "/owner/email", "body /owner/email must match the pattern @"),
            (#"{"name":"Rex","colour":"red"}"#, "/colour", "body /colour is not a property this object may have"),
        ]
        for (text, pointer, message) in cases {
            let refused = refusal { try policy.checkBody(Array(text.utf8)) }
            #expect(refused?.status == .badRequest, "\(text)")
            #expect(refused?.message == message)
            #expect(refused?.fields.first?.1 == pointer)
        }
        #expect(refusal { try policy.checkBody(Array(#"{"name":"#.utf8)) }?.code == "invalid_json")
        #expect(refusal { try policy.checkBody([]) }?.message == "a request body is required")
    }

    @Test func pointerTokensAreEscaped() throws {
        let policy = try policy(["body": ["schema": ["additionalProperties": false]]])
        #expect(refusal { try policy.checkBody(Array(#"{"a/b~c":1}"#.utf8)) }?.fields.first?.1 == "/a~1b~0c")
    }

    @Test func holdsOnlyJSONBodies() throws {
        let policy = try policy(Self.body)
        #expect(try policy.holdsBody(RequestFields([("content-type", "application/json; charset=utf-8"), ("content-length", "2")])))
        #expect(try policy.holdsBody(RequestFields([("content-type", "application/merge-patch+json"), ("transfer-encoding", "chunked")])))
        #expect(
            refusal { _ = try policy.holdsBody(RequestFields([("content-type", "text/plain"), ("content-length", "2")])) }?.status
                == .unsupportedMediaType)
        #expect(refusal { _ = try policy.holdsBody(RequestFields()) }?.message == "a request body is required")
        let lenient = try self.policy(["body": ["other_media_types": true, "schema": ["type": "object"]]])
        #expect(try !lenient.holdsBody(RequestFields([("content-type", "text/plain"), ("content-length", "2")])))
        #expect(try !lenient.holdsBody(RequestFields()))
        #expect(try !self.policy(Self.parameters).holdsBody(RequestFields([("content-type", "application/json"), ("content-length", "2")])))
    }
}
