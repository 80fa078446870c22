import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

/// `gatehouse import openapi` run as a user would: import → validate → diff → sync against a real
/// `serve` on a real SQLite file, then requests on its proxy port. Every imported upstream is a
/// loopback test upstream (`--server`, `--server-var`, `--upstream`), never a host a spec names.
@Suite(.serialized) struct OpenAPIImportTests {
    /// The shared test specs, with their licences (`Tests/Fixtures/openapi-specs`, copied from the
    /// founders' `shared/openapi-specs`; `GATEHOUSE_OPENAPI_SPECS` names another directory).
    static let specs =
        ProcessInfo.processInfo.environment["GATEHOUSE_OPENAPI_SPECS"]
        ?? ToolRun.repositoryRoot.appendingPathComponent("Tests/Fixtures/openapi-specs").path
    static let key = "shop-key-0123456789abcdef"

    static func cli(_ arguments: [String], admin: Int? = nil) async throws -> (status: Int32, output: String) {
        try await GatehouseProcess.run(arguments, environment: admin.map { ["GATEHOUSE_ADMIN_URL": "http://127.0.0.1:\($0)"] } ?? [:])
    }

    /// Syncs `file` under `tag` and waits until the proxy serves the version it made.
    static func sync(_ file: String, tag: String, on gatehouse: GatehouseProcess) async throws {
        let synced = try await cli(["sync", "--select-tag", tag, file], admin: gatehouse.ports.admin)
        #expect(synced.status == 0, "\(synced.output)")
        guard let line = synced.output.split(separator: "\n").first(where: { $0.hasPrefix("applied as version ") }),
            let version = Int(line.dropFirst("applied as version ".count))
        else { return }
        try await gatehouse.waitForConfigVersion(version)
    }

    static func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func everySharedSpecImportsValidatesAndSyncsUnderItsOwnTagAndServes() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start(name: "api")
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let imports: [(spec: String, name: String, routes: Int)] = [
            ("swagger2.0-petstore-v2.yaml", "petstore2", 20), ("oas3.0-swagger-petstore.yaml", "petstore3", 19),
            ("oas3.0-github-ghes-3.0.yaml", "ghes", 664), ("oas3.1-redocly-museum.yaml", "museum", 8), ("oas3.1-openai.yaml", "openai", 281),
            ("oas3.2-tags-example.yaml", "tags32", 4),
        ]
        for (spec, name, routes) in imports {
            let file = dir.file("\(name).yaml")
            // Each under a prefix of its own: two petstores declare the same operations.
            let imported = try await Self.cli([
                "import", "openapi", "\(Self.specs)/\(spec)", "--name", name, "--server", "http://\(upstream.target)", "--base-path",
                "prefix=/\(name)", "-o", file,
            ])
            #expect(imported.status == 0, "\(imported.output)")
            #expect(imported.output.contains("wrote \(file): \(routes) routes"))
            let validated = try await Self.cli(["validate", file])
            #expect(validated.status == 0, "\(validated.output)")
            try await Self.sync(file, tag: "openapi:\(name)", on: gatehouse)
        }
        let status = try await httpRequest(port: gatehouse.ports.status, .GET, "/status")
        #expect(status.json["routes"]?.intValue == imports.map(\.routes).reduce(0, +))
        let proxy = gatehouse.ports.proxy
        let pet = try await httpRequest(port: proxy, .GET, "/petstore2/pet/findByStatus?status=sold")
        #expect(pet.status == 200 && pet.json["uri"] == "/pet/findByStatus?status=sold", "\(pet.text)")
        // GHES's clashing parameter names at one position: both routes serve.
        let commit = try await httpRequest(port: proxy, .GET, "/ghes/repos/o/r/commits/abc123")
        let commitStatus = try await httpRequest(port: proxy, .GET, "/ghes/repos/o/r/commits/main/status")
        #expect(commit.status == 200 && commit.json["uri"] == "/repos/o/r/commits/abc123")
        #expect(commitStatus.status == 200 && commitStatus.json["uri"] == "/repos/o/r/commits/main/status")
        // Exact paths: what the spec does not declare is not routed.
        #expect(try await httpRequest(port: proxy, .GET, "/ghes/repos/o/r/commits/abc123/nope").status == 404)
        #expect(try await httpRequest(port: proxy, .PATCH, "/petstore2/pet/findByStatus").status == 404)
    }

    static func shopSpec(redis: String) -> String {
        """
        openapi: 3.0.3
        info: { title: Shop, version: "1" }
        components:
          securitySchemes:
            key: { type: apiKey, in: header, name: X-Shop-Key }
        security: [{ key: [] }]
        paths:
          /items:
            get:
              operationId: listItems
              x-gatehouse: { policies: { limit: { type: rate-limit, config: { limit: 2, window: 1d, by: ip } } } }
            post:
              operationId: addItem
              x-gatehouse: { policies: { quota: { type: quota, config: { limit: 1, period: day, redis_url: "\(redis)" } } } }
          /items/mine:
            get: { operationId: myItems, x-gatehouse: { upstream: mine-upstream } }
          /items/{itemId}:
            get: { operationId: getItem }
          /health:
            get: { operationId: health, security: [] }
        """
    }

    @Test func limitsQuotasKeysAndLiteralsWorkPerOperation() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let redis = try await TestRedis.start()
        let shop = try await TestUpstream.start(name: "shop-api")
        let mine = try await TestUpstream.start(name: "mine-api")
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let admin = gatehouse.ports.admin
        // Another owner's upstream and consumer, which the spec's entities refer to.
        for (path, body): (String, JSONValue) in [
            ("/upstreams", ["name": "mine-upstream", "targets": [["target": .string(mine.target)]]]), ("/consumers", ["name": "shopper"]),
            ("/consumers/shopper/credentials", ["type": "key-auth", "key": .string(Self.key)]),
        ] {
            let created = try await httpRequest(port: admin, .POST, path, json: body)
            #expect(created.status == 201, "\(created.text)")
        }
        try Self.write(Self.shopSpec(redis: redis.url), to: dir.file("shop.openapi.yaml"))
        let imported = try await Self.cli([
            "import", "openapi", dir.file("shop.openapi.yaml"), "--server", "http://\(shop.target)", "-o", dir.file("shop.yaml"),
        ])
        #expect(imported.status == 0, "\(imported.output)")
        try await Self.sync(dir.file("shop.yaml"), tag: "openapi:shop", on: gatehouse)

        let proxy = gatehouse.ports.proxy
        let withKey = [("X-Shop-Key", Self.key)]
        #expect(try await httpRequest(port: proxy, .GET, "/health").status == 200)
        let refused = try await httpRequest(port: proxy, .GET, "/items")
        #expect(refused.status == 401 && refused.header("www-authenticate") != nil)
        #expect(try await httpRequest(port: proxy, .GET, "/items/7").status == 401)
        // listItems: 2 a day; its neighbour getItem has no limit.
        #expect(try await httpRequest(port: proxy, .GET, "/items", headers: withKey).status == 200)
        #expect(try await httpRequest(port: proxy, .GET, "/items", headers: withKey).status == 200)
        #expect(try await httpRequest(port: proxy, .GET, "/items", headers: withKey).status == 429)
        for _ in 0..<4 { #expect(try await httpRequest(port: proxy, .GET, "/items/7", headers: withKey).status == 200) }
        // addItem: a quota of one a day, counted in Redis.
        #expect(try await httpRequest(port: proxy, .POST, "/items", headers: withKey).status == 200)
        let overQuota = try await httpRequest(port: proxy, .POST, "/items", headers: withKey)
        #expect(overQuota.status == 429 && overQuota.json["error"]?["code"] == "quota_exceeded", "\(overQuota.text)")
        // The literal /items/mine beats /items/{itemId}, and goes to the upstream its x-gatehouse names.
        let literal = try await httpRequest(port: proxy, .GET, "/items/mine", headers: withKey)
        #expect(literal.status == 200 && literal.json["server"] == "mine-api")
        let parameter = try await httpRequest(port: proxy, .GET, "/items/yours", headers: withKey)
        #expect(parameter.status == 200 && parameter.json["server"] == "shop-api")
        // The key is checked by the gateway and not passed on.
        #expect(parameter.json["headers"]?["x-shop-key"] == nil && parameter.json["headers"]?["x-consumer-name"] == ["shopper"])
    }

    static let petstore = """
        openapi: 3.1.0
        info: { title: Petstore, version: "1" }
        paths:
          /pets:
            get:
              operationId: listPets
              parameters:
                - { name: limit, in: query, schema: { type: integer, minimum: 1, maximum: 50 } }
                - { name: X-Request-Tag, in: header, required: true, schema: { type: string, pattern: "^[a-z]+$" } }
            post:
              operationId: createPet
              requestBody:
                required: true
                content:
                  application/json:
                    schema:
                      type: object
                      required: [name]
                      additionalProperties: false
                      properties:
                        name: { type: string, minLength: 1 }
                        tags: { type: array, items: { type: string }, maxItems: 2 }
          /pets/{petId}:
            get:
              operationId: getPet
              parameters: [{ name: petId, in: path, required: true, schema: { type: integer } }]
            delete:
              operationId: deletePet
              x-gatehouse: { validate: false }
              parameters: [{ name: petId, in: path, required: true, schema: { type: integer } }]
        """

    @Test func validateGives400sNamingWhatIsWrongBeforeTheUpstream() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let pets = try await TestUpstream.start(name: "pets-api")
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        try Self.write(Self.petstore, to: dir.file("pets.openapi.yaml"))
        let imported = try await Self.cli([
            "import", "openapi", dir.file("pets.openapi.yaml"), "--validate", "--server", "http://\(pets.target)", "-o", dir.file("pets.yaml"),
        ])
        #expect(imported.status == 0, "\(imported.output)")
        let validated = try await Self.cli(["validate", dir.file("pets.yaml")])
        #expect(validated.status == 0, "\(validated.output)")
        try await Self.sync(dir.file("pets.yaml"), tag: "openapi:petstore", on: gatehouse)

        let proxy = gatehouse.ports.proxy
        let tag = [("X-Request-Tag", "abc")]
        let refusals: [(HTTPMethod, String, [(String, String)], JSONValue?, JSONValue)] = [
            (.GET, "/pets", [], nil, ["in": "header", "parameter": "x-request-tag", "message": "header parameter 'x-request-tag' is required"]),
            (.GET, "/pets?limit=99", tag, nil, ["in": "query", "parameter": "limit", "message": "query parameter 'limit' must be at most 50"]),
            (.GET, "/pets/rex", [], nil, ["in": "path", "parameter": "petId", "message": "path parameter 'petId' must be an integer, got string"]),
            (.POST, "/pets", [], ["name": ""], ["pointer": "/name", "message": "body /name must be at least 1 characters long"]),
            (
                .POST, "/pets", [], ["name": "Rex", "tags": ["a", "b", "c"]], ["pointer": "/tags", "message": "body /tags must have at most 2 items"]
            ),
            (.POST, "/pets", [], ["name": "Rex", "age": 3], ["pointer": "/age", "message": "body /age is not a property this object may have"]),
        ]
        for (method, uri, headers, body, expected) in refusals {
            let response = try await httpRequest(port: proxy, method, uri, headers: headers, json: body)
            #expect(response.status == 400, "\(method) \(uri): \(response.text)")
            var error = response.json["error"]?.objectValue ?? [:]
            #expect(error.removeValue(forKey: "code") == "invalid_request")
            #expect(JSONValue.object(error) == expected)
        }
        // None of them reached the upstream.
        #expect(pets.connectionCount == 0)

        let listed = try await httpRequest(port: proxy, .GET, "/pets?limit=5", headers: tag)
        #expect(listed.status == 200 && listed.json["server"] == "pets-api", "\(listed.text)")
        let created = try await httpRequest(port: proxy, .POST, "/pets", json: ["name": "Rex", "tags": ["good"]])
        #expect(created.status == 200 && created.json["body_bytes"] == .int(Array(#"{"name":"Rex","tags":["good"]}"#.utf8).count), "\(created.text)")
        #expect(try await httpRequest(port: proxy, .GET, "/pets/7").status == 200)
        // deletePet opted out: its path parameter goes unchecked.
        #expect(try await httpRequest(port: proxy, .DELETE, "/pets/rex").status == 200)
    }

    static let inventory = """
        openapi: 3.1.0
        info: { title: Inventory, version: "1" }
        paths:
          /stock:
            get: { operationId: listStock, x-gatehouse: { policies: { limit: { type: rate-limit, config: { limit: 10, window: 1m } } } } }
          /stock/{sku}:
            get: { operationId: getStock }
            delete: { operationId: dropStock }
          /suppliers:
            get: { operationId: listSuppliers, x-gatehouse: { policies: { limit: { type: rate-limit, config: { limit: 5, window: 1m } } } } }
        """

    @Test func reImportIsAMinimalChangeASecondSpecLeavesTheFirstAloneAndCheckFindsDrift() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let admin = gatehouse.ports.admin
        let spec = dir.file("inventory.openapi.yaml")
        let file = dir.file("inventory.yaml")
        let server = ["--server", "http://\(upstream.target)"]
        try Self.write(Self.inventory, to: spec)
        #expect(try await Self.cli(["import", "openapi", spec, "-o", file] + server).status == 0)
        try await Self.sync(file, tag: "openapi:inventory", on: gatehouse)
        #expect(try await Self.cli(["import", "openapi", spec, "--check", file] + server).status == 0)

        // Another team's spec, under its own tag, with a path of its own.
        let other = dir.file("billing.openapi.yaml")
        try Self.write(
            "openapi: 3.0.3\ninfo: { title: Billing, version: \"1\" }\npaths:\n  /invoices: { get: { operationId: listInvoices } }\n  /stock/{id}/invoice: { get: {} }\n",
            to: other)
        #expect(try await Self.cli(["import", "openapi", other, "-o", dir.file("billing.yaml")] + server).status == 0)
        try await Self.sync(dir.file("billing.yaml"), tag: "openapi:billing", on: gatehouse)
        let untouched = try await Self.cli(["diff", "--select-tag", "openapi:inventory", file], admin: admin)
        #expect(untouched.status == 0 && untouched.output == "no changes\n", "\(untouched.output)")

        // Three changes: one operation added, one removed, one's own rate limit changed.
        let edited =
            Self.inventory.replacingOccurrences(of: "limit: 10,", with: "limit: 20,")
            .replacingOccurrences(of: "    delete: { operationId: dropStock }\n", with: "")
            + "\n  /warehouses:\n    get: { operationId: listWarehouses }\n"
        try Self.write(edited, to: spec)
        let drift = try await Self.cli(["import", "openapi", spec, "--check", file] + server)
        #expect(drift.status == 2)
        #expect(drift.output.contains("is stale") && drift.output.contains("+ create route 'inventory.list-warehouses'"), "\(drift.output)")
        #expect(try await Self.cli(["import", "openapi", spec, "-o", file] + server).status == 0)
        let plan = try await Self.cli(["diff", "--select-tag", "openapi:inventory", file], admin: admin)
        #expect(plan.status == 2)
        #expect(
            plan.output == """
                - delete route 'inventory.drop-stock'
                + create route 'inventory.list-warehouses'
                ~ update policy 'inventory.list-stock.limit': config

                """, "\(plan.output)")
        try await Self.sync(file, tag: "openapi:inventory", on: gatehouse)
        let billing = try await Self.cli(["diff", "--select-tag", "openapi:billing", dir.file("billing.yaml")], admin: admin)
        #expect(billing.status == 0, "\(billing.output)")
        let routes = try await httpRequest(port: admin, .GET, "/routes?tags=openapi:billing")
        #expect(routes.json["data"]?.arrayValue?.count == 2, "\(routes.text)")
        #expect(try await httpRequest(port: gatehouse.ports.proxy, .GET, "/stock/a1/invoice").status == 200)
    }

    @Test func badInputNamesItsPointerOnStandardErrorAndWritesNothing() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let spec = dir.file("bad.yaml")
        try Self.write(
            "openapi: 3.0.3\ninfo: { title: t, version: \"1\" }\npaths:\n  /pets:\n    get: { x-gatehouse: { polices: {} } }\n", to: spec)
        let refused = try await Self.cli(["import", "openapi", spec, "--server", "http://127.0.0.1:9", "-o", dir.file("out.yaml")])
        #expect(refused.status == 1)
        #expect(refused.output.contains("error: \(spec)#/paths/~1pets/get/x-gatehouse/polices: unknown key"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.yaml")))
        let relative = try await Self.cli(["import", "openapi", "\(Self.specs)/oas3.2-tags-example.yaml"])
        #expect(relative.status == 1 && relative.output.contains("#/servers: the server URL is relative"))
    }
}

extension OpenAPIImportTests {
    /// The example repository's CI step: its generated file matches its spec.
    @Test func theDeployExamplesGeneratedFileIsUpToDate() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let repository = root.appendingPathComponent("deploy/config-repo").path
        let checked = try await Self.cli([
            "import", "openapi", repository + "/openapi/menus.openapi.yaml", "--check", repository + "/gateway/openapi-menus.yaml",
        ])
        #expect(checked.status == 0, "\(checked.output)")
    }
}

extension OpenAPIImportTests {
    /// docs/openapi.md's worked example, served: the example spec with its upstream on loopback.
    @Test func theWorkedExampleServesAsDocumented() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let menus = try await TestUpstream.start(name: "menus-api")
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let spec = root.appendingPathComponent("deploy/config-repo/openapi/menus.openapi.yaml").path
        let imported = try await Self.cli(["import", "openapi", spec, "--server", "http://\(menus.target)/v1", "-o", dir.file("menus.yaml")])
        #expect(imported.status == 0, "\(imported.output)")
        try await Self.sync(dir.file("menus.yaml"), tag: "openapi:menus", on: gatehouse)
        let admin = gatehouse.ports.admin
        #expect(try await httpRequest(port: admin, .POST, "/consumers", json: ["name": "kitchen"]).status == 201)
        let credential = try await httpRequest(
            port: admin, .POST, "/consumers/kitchen/credentials", json: ["type": "key-auth", "key": .string(Self.key)])
        #expect(credential.status == 201)

        let proxy = gatehouse.ports.proxy
        let list = try await httpRequest(port: proxy, .GET, "/v1/menus")
        #expect(list.status == 200 && list.json["uri"] == "/v1/menus" && list.header("ratelimit-limit") == "600")
        #expect(try await httpRequest(port: proxy, .POST, "/v1/menus").status == 401)
        let created = try await httpRequest(port: proxy, .POST, "/v1/menus", headers: [("X-Menus-Key", Self.key)])
        #expect(created.status == 200 && created.header("ratelimit-limit") == "10")
        let today = try await httpRequest(port: proxy, .GET, "/v1/menus/today")
        #expect(today.status == 200 && today.header("ratelimit-limit") == nil)
        #expect(try await httpRequest(port: proxy, .GET, "/v1/menus/42").status == 401)
        #expect(try await httpRequest(port: proxy, .GET, "/v1/menus/42", headers: [("X-Menus-Key", Self.key)]).status == 200)
        #expect(try await httpRequest(port: proxy, .PATCH, "/v1/menus/42", headers: [("X-Menus-Key", Self.key)]).status == 404)
        #expect(try await httpRequest(port: proxy, .GET, "/v1/menus/42/items", headers: [("X-Menus-Key", Self.key)]).status == 404)
        let preflight = try await httpRequest(
            port: proxy, .OPTIONS, "/v1/menus/42",
            headers: [
                ("Origin", "https://www.example.com"), ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "if-match,x-menus-key"),
            ])
        #expect(preflight.status == 204)
        #expect(preflight.header("access-control-allow-methods") == "DELETE, GET, PUT")
        #expect(preflight.header("access-control-allow-headers") == "content-type, if-match, x-menus-key")
    }
}
