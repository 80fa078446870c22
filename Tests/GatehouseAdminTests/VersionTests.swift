import GatehouseModel
import HTTPTypes
import Testing

@Suite struct VersionTests {
    @Test func historyDiffAndRollback() async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            try await client.call(.post, "/routes", ["name": "menus", "paths": ["/menus"], "upstream": "api"])
            try await client.call(.delete, "/routes/recipes")

            let history = try await client.call(.get, "/versions")
            #expect(
                history.json["data"]?.arrayValue?.map { $0["summary"]?.stringValue ?? "" } == [
                    "delete route recipes", "create route menus", "create route recipes", "create upstream api",
                ])

            let diff = try await client.call(.get, "/versions/2/diff/4")
            #expect(
                diff.json["changes"]?.arrayValue?.map { "\($0["action"]!.stringValue!) \($0["name"]!.stringValue!)" } == [
                    "create menus", "delete recipes",
                ])

            let v2 = try await client.call(.get, "/versions/2")
            let rolledBack = try await client.call(.post, "/versions/2/rollback")
            #expect(rolledBack.status == 201)
            #expect(rolledBack.json["version"] == 5)
            #expect(rolledBack.json["hash"]?.stringValue == v2.headers[HTTPField.Name("Gatehouse-Config-Hash")!])
            let routes = try await client.call(.get, "/routes").json["data"]?.arrayValue?.map { $0["name"]?.stringValue ?? "" }
            #expect(routes == ["recipes"])
            #expect(try await client.call(.get, "/config").json == v2.json)
        }
    }

    @Test func configCarriesAnETagOfItsVersion() async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            let config = try await client.call(.get, "/config")
            #expect(config.headers[.eTag] == "\"2\"")
            #expect(config.json["format_version"] == 1)
            #expect(config.json["routes"]?.arrayValue?.count == 1)
            var headers: HTTPFields = [:]
            headers[.ifNoneMatch] = "\"2\""
            #expect(try await client.call(.get, "/config", headers: headers).status == 304)
        }
    }

    @Test func credentialsShowTheirKeyOnce() async throws {
        try await AdminHarness().run { client in
            try await client.call(.post, "/consumers", ["name": "web"])
            let created = try await client.call(.post, "/consumers/web/credentials", ["type": "key-auth"])
            #expect(created.status == 201)
            let key = try #require(created.json["key"]?.stringValue)
            #expect(key.count == 64)
            let id = try #require(created.json["id"]?.stringValue)
            let listed = try await client.call(.get, "/consumers/web/credentials")
            #expect(listed.json["data"]?.arrayValue?.count == 1)
            #expect(!"\(listed.json)".contains(key))
            #expect(!"\(try await client.call(.get, "/config").json)".contains(key))
            let duplicate = try await client.call(.post, "/consumers", ["name": "other"])
            #expect(duplicate.status == 201)
            let clash = try await client.call(.post, "/consumers/other/credentials", ["type": "key-auth", "key": .string(key)])
            #expect(clash.status == 409)
            #expect(try await client.call(.delete, "/consumers/web/credentials/\(id)").status == 204)
            #expect(try await client.call(.get, "/consumers/web/credentials/\(id)").status == 404)
        }
    }
}
