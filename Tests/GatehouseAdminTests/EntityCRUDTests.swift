import GatehouseAdmin
import GatehouseModel
import HTTPTypes
import Testing

@Suite struct EntityCRUDTests {
    @Test func upstreamLifecycleCreatesOneVersionPerWrite() async throws {
        try await AdminHarness().run { client in
            let created = try await client.call(.post, "/upstreams", ["name": "api", "targets": [["target": "127.0.0.1:9000"]], "tags": ["team-a"]])
            #expect(created.status == 201)
            #expect(created.version == 1)
            let id = try #require(created.json["id"]?.stringValue)
            #expect(created.json["created_at"]?.intValue != nil)

            #expect(try await client.call(.get, "/upstreams/api").json["id"]?.stringValue == id)
            #expect(try await client.call(.get, "/upstreams/\(id)").json["name"] == "api")
            #expect(try await client.call(.get, "/upstreams?tags=team-a").json["data"]?.arrayValue?.count == 1)
            #expect(try await client.call(.get, "/upstreams?tags=team-b").json["data"]?.arrayValue?.count == 0)

            let patched = try await client.call(.patch, "/upstreams/api", ["retries": 2, "timeouts": ["read": "5s"]])
            #expect(patched.status == 200)
            #expect(patched.version == 2)
            #expect(patched.json["retries"] == 2)
            #expect(patched.json["timeouts"]?["read"] == "5s")
            #expect(patched.json["timeouts"]?["connect"] == "5s")

            let replaced = try await client.call(.put, "/upstreams/api", ["targets": [["target": "127.0.0.1:9001"]]])
            #expect(replaced.status == 200)
            #expect(replaced.json["retries"] == .null)
            #expect(replaced.json["id"]?.stringValue == id)

            let deleted = try await client.call(.delete, "/upstreams/api")
            #expect(deleted.status == 204)
            #expect(deleted.version == 4)
            #expect(try await client.call(.get, "/upstreams/api").status == 404)
        }
    }

    @Test func putCreatesUnderTheNameInTheURL() async throws {
        try await AdminHarness().run { client in
            let created = try await client.call(.put, "/upstreams/new-one", ["targets": []])
            #expect(created.status == 201)
            #expect(created.json["name"] == "new-one")
            let mismatch = try await client.call(.put, "/upstreams/other", ["name": "different"])
            #expect(mismatch.status == 400)
            #expect(mismatch.errorField == "name")
        }
    }

    @Test func renamingAnUpstreamKeepsRoutesPointingAtIt() async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            let renamed = try await client.call(.patch, "/upstreams/api", ["name": "main-api"])
            #expect(renamed.status == 200)
            #expect(try await client.call(.get, "/routes/recipes").json["upstream"] == "main-api")
        }
    }

    @Test func readOnlyFieldsFromAGetCanBeSentBack() async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            var route = try await client.call(.get, "/routes/recipes").json
            route = route.merging(patch: ["strip_path": true])
            let replaced = try await client.call(.put, "/routes/recipes", route)
            #expect(replaced.status == 200)
            #expect(replaced.json["strip_path"] == true)
        }
    }

    @Test func consumersAndDisabledPoliciesAreStored() async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            #expect(try await client.call(.post, "/consumers", ["name": "web-app", "custom_id": "w-1", "groups": ["gold"]]).status == 201)
            let policy = try await client.call(
                .post, "/policies",
                [
                    "name": "cors-web", "type": "cors", "route": "recipes", "enabled": false,
                    "config": ["allow_origins": ["https://www.example.com"]],
                ])
            #expect(policy.status == 201)
            #expect(policy.json["config"]?["max_age"] == 600)
            #expect(try await client.call(.delete, "/routes/recipes").status == 409)
        }
    }

    @Test func enabledPoliciesOfUnenforcedTypesAreRefused() async throws {
        // A control plane whose data planes enforce only cors (an older release, say).
        var options = AdminHarness.defaultOptions
        options.enforcedPolicyTypes = [.cors]
        try await AdminHarness(options: options).run { client in
            try await client.seed()
            let refused = try await client.call(.post, "/policies", ["name": "rl", "type": "rate-limit", "config": ["limit": 5, "window": "1s"]])
            #expect(refused.status == 400)
            #expect(refused.errorField == "enabled")
            #expect(refused.version == nil)
            let disabled = try await client.call(
                .post, "/policies", ["name": "rl", "type": "rate-limit", "enabled": false, "config": ["limit": 5, "window": "1s"]])
            #expect(disabled.status == 201)
            let cors = try await client.call(.post, "/policies", ["name": "cors", "type": "cors", "config": ["allow_origins": ["*"]]])
            #expect(cors.status == 201)
        }
    }
}

@Suite struct IDShapedNameTests {
    @Test func aNameInTheFormOfAnIdIsRefused() async throws {
        try await AdminHarness().run { client in
            let first = try await client.call(.post, "/upstreams", ["name": "api", "targets": [["target": "127.0.0.1:9000"]]])
            let id = try #require(first.json["id"]?.stringValue)
            for name in [id, "00000000-0000-4000-8000-000000000001"] {
                let refused = try await client.call(.post, "/upstreams", ["name": .string(name), "targets": [["target": "127.0.0.1:9001"]]])
                #expect(refused.status == 400, "\(refused.json)")
                #expect(refused.json["error"]?["field"] == "name")
            }
            // Nor by a rename, nor in a whole document.
            #expect(try await client.call(.patch, "/upstreams/api", ["name": .string(id)]).status == 400)
            #expect(try await client.call(.get, "/upstreams/\(id)").json["name"] == "api")
            #expect(try await client.call(.get, "/versions").json["data"]?.arrayValue?.count == 1)
        }
    }
}
