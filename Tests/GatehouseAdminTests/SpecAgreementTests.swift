import GatehouseModel
import HTTPTypes
import Testing

/// Answers the OpenAPI document promises where a request is malformed rather than merely
/// unlucky (schemathesis checks the same against a live server in GatehouseEndToEndTests).
@Suite struct SpecAgreementTests {
    @Test(arguments: ["", "abc", "\"\", \"\"", "W/\"1e100\"", "\"-1\"", "+1"])
    func aMalformedIfMatchIs400AndWritesNothing(_ value: String) async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            var headers: HTTPFields = [:]
            headers[.ifMatch] = value
            let refused = try await client.call(.delete, "/routes/recipes", headers: headers)
            #expect(refused.status == 400)
            #expect(refused.errorField == "If-Match")
            #expect(try await client.call(.get, "/routes/recipes").status == 200)
            #expect(try await client.call(.get, "/").json["config_version"] == 2)
        }
    }

    @Test func aWellFormedIfMatchOfAnotherVersionIsStill412() async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            for value in ["\"1\"", "1", "W/\"1\""] {
                var headers: HTTPFields = [:]
                headers[.ifMatch] = value
                #expect(try await client.call(.delete, "/routes/recipes", headers: headers).status == 412)
            }
        }
    }

    @Test func aMethodAKnownPathDoesNotTakeIs405WithAllow() async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            let trace = try await client.call(HTTPRequest.Method("TRACE")!, "/versions")
            #expect(trace.status == 405)
            #expect(trace.headers[.allow] == "GET")
            #expect(trace.errorCode == "method_not_allowed")
            let post = try await client.call(.post, "/routes/recipes", ["name": "x"])
            #expect(post.status == 405)
            #expect(post.headers[.allow] == "DELETE, GET, PATCH, PUT")
            let credentials = try await client.call(.put, "/consumers/web-app/credentials/00000000-0000-4000-8000-000000000001")
            #expect(credentials.headers[.allow] == "DELETE, GET")
            #expect(try await client.call(.get, "/nowhere").status == 404)
            #expect(try await client.call(.get, "/routes/recipes/extra").status == 404)
        }
    }

    @Test(arguments: ["/upstreams/Not%20A%20Name", "/routes/UPPER", "/consumers/-dash", "/policies/%C3%A9"])
    func aKeyThatIsNeitherANameNorAnIdIs400(_ uri: String) async throws {
        try await AdminHarness().run { client in
            let reply = try await client.call(.get, uri)
            #expect(reply.status == 400)
            #expect(reply.errorField == "key")
        }
    }

    @Test func aCredentialIDThatIsNotAUUIDIs400AndAnUnknownOneIs404() async throws {
        try await AdminHarness().run { client in
            try await client.call(.post, "/consumers", ["name": "web-app"])
            let malformed = try await client.call(.get, "/consumers/web-app/credentials/nope")
            #expect(malformed.status == 400)
            #expect(malformed.errorField == "id")
            #expect(try await client.call(.delete, "/consumers/web-app/credentials/nope").status == 400)
            #expect(try await client.call(.get, "/consumers/web-app/credentials/00000000-0000-4000-8000-000000000009").status == 404)
        }
    }

    /// JSON has one kind of number; JSON Schema's `integer` admits 50.0, and so does the API.
    @Test func anIntegerWrittenWithAFractionOfZeroIsAnInteger() async throws {
        try await AdminHarness().run { client in
            let created = try await client.call(
                .post, "/upstreams", raw: Array(#"{"name": "api", "targets": [{"target": "127.0.0.1:9000", "weight": 50.0}]}"#.utf8))
            #expect(created.status == 201, "\(created.json)")
            #expect(created.json["targets"]?.arrayValue?.first?["weight"] == 50)
            let fraction = try await client.call(
                .post, "/upstreams", raw: Array(#"{"name": "b", "targets": [{"target": "127.0.0.1:9001", "weight": 50.5}]}"#.utf8))
            #expect(fraction.status == 400)
        }
    }
}
