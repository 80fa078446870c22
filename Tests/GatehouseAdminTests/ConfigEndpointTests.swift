import GatehouseAdmin
import GatehouseModel
import GatehouseTestSupport
import HTTPTypes
import Testing

/// `PUT /config`: the whole config, or a tagged part of it, in one version.
@Suite struct ConfigEndpointTests {
    static let document: JSONValue = [
        "format_version": 1,
        "upstreams": [["name": "main-api", "targets": [["target": "10.0.0.10:8080"]]]],
        "routes": [["name": "menus", "paths": ["/api/menus"], "strip_path": true, "upstream": "main-api"]],
        "consumers": [["name": "web-app", "credentials": [["type": "key-auth", "key": "web-app-key-0123456789"]]]],
    ]

    @Test func replacingTheConfigIsOneVersionAndRepeatingItIsNone() async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            let applied = try await client.call(.put, "/config", Self.document)
            #expect(applied.status == 200, "\(applied.json)")
            #expect(applied.json["version"] == 3)
            #expect(applied.json["changes"]?.arrayValue?.count == 5)
            #expect(try await client.call(.get, "/routes").json["data"]?.arrayValue?.map { $0["name"] } == ["menus"])
            let upstreamID = try await client.call(.get, "/upstreams/main-api").json["id"]

            let again = try await client.call(.put, "/config", Self.document)
            #expect(again.json["version"] == 3)
            #expect(again.json["changes"] == .array([]))
            #expect(try await client.call(.get, "/upstreams/main-api").json["id"] == upstreamID)
            #expect(try await client.call(.get, "/versions").json["current"] == 3)
        }
    }

    @Test func whatGetReturnsPutsBackAsANoOp() async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            try await client.call(.post, "/consumers", ["name": "c"])
            try await client.call(.post, "/consumers/c/credentials", ["type": "basic-auth", "username": "u", "password": "secret-password"])
            // A certificate comes back as a `key_ref`, its key sealed again: no change either.
            let leaf = try TestChain().leaf(["edge.example.test"])
            let certificate = try await client.call(.post, "/certificates", ["name": "edge", "cert": .string(leaf.chainPEM), "key": .string(leaf.keyPEM)])
            #expect(certificate.status == 201, "\(certificate.json)")
            let config = try await client.call(.get, "/config").json
            let put = try await client.call(.put, "/config", config)
            #expect(put.status == 200, "\(put.json)")
            #expect(put.json["changes"] == .array([]))
            #expect(put.json["version"] == 5)
        }
    }

    @Test func dryRunShowsTheChangeAndWritesNothing() async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            let plan = try await client.call(.put, "/config?dry_run=true", Self.document)
            #expect(plan.status == 200)
            #expect(plan.json["dry_run"] == true)
            let actions = plan.json["changes"]?.arrayValue?.map { "\($0["action"]!.stringValue!) \($0["name"]!.stringValue!)" }
            #expect(actions == ["delete api", "create main-api", "create menus", "delete recipes", "create web-app"])
            #expect(try await client.call(.get, "/").json["config_version"] == 2)
        }
    }

    @Test func selectTagsReplacesOnlyTheTaggedPart() async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            let teamA: JSONValue = [
                "format_version": 1,
                "routes": [["name": "a-route", "tags": ["team-a"], "paths": ["/a"], "upstream": "api"]],
            ]
            #expect(try await client.call(.put, "/config?select_tags=team-a", teamA).status == 200)
            let names = try await client.call(.get, "/routes").json["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
            #expect(names == ["a-route", "recipes"])

            let untagged: JSONValue = ["format_version": 1, "routes": [["name": "b", "paths": ["/b"], "upstream": "api"]]]
            let refused = try await client.call(.put, "/config?select_tags=team-a", untagged)
            #expect(refused.status == 400)
            #expect(refused.errorField == "routes[0].tags")

            let takeover: JSONValue = ["format_version": 1, "upstreams": [["name": "api", "tags": ["team-a"]]]]
            let conflict = try await client.call(.put, "/config?select_tags=team-a", takeover)
            #expect(conflict.status == 409)

            #expect(try await client.call(.put, "/config?select_tags=team-a", ["format_version": 1]).status == 200)
            let left = try await client.call(.get, "/routes").json["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
            #expect(left == ["recipes"])
        }
    }

    @Test func badDocumentsAreRefusedWhole() async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            var bad = Self.document.objectValue!
            bad["routes"] = [["name": "menus", "paths": ["/api/menus"], "upstream": "nowhere"]]
            #expect(try await client.call(.put, "/config", .object(bad)).status == 400)
            #expect(try await client.call(.put, "/config", ["format_version": 2]).errorField == "format_version")
            #expect(try await client.call(.put, "/config", ["upstreams": []]).errorField == "format_version")
            var stale: HTTPFields = [:]
            stale[.ifMatch] = "\"1\""
            #expect(try await client.call(.put, "/config", Self.document, headers: stale).status == 412)
            #expect(try await client.call(.get, "/").json["config_version"] == 2)
        }
    }

    @Test func theConfigBodyLimitIsItsOwn() async throws {
        var options = AdminHarness.defaultOptions
        options.configBodyLimit = 3 << 19
        try await AdminHarness(options: options).run { client in
            let small = Self.upstreams(count: 4200)
            #expect(small.canonicalBytes.count > 1 << 20)
            #expect(try await client.call(.put, "/config", small).status == 200)
            let reply = try await client.call(.put, "/config", Self.upstreams(count: 5600))
            #expect(reply.status == 413)
            #expect(try await client.call(.get, "/").json["config_version"] == 1)
        }
    }

    static func upstreams(count: Int) -> JSONValue {
        let tags: JSONValue = [.string(String(repeating: "a", count: 128)), .string(String(repeating: "b", count: 128))]
        var upstreams: [JSONValue] = []
        for index in 0..<count { upstreams.append(["name": .string("u\(index)"), "tags": tags]) }
        return ["format_version": 1, "upstreams": .array(upstreams)]
    }
}
