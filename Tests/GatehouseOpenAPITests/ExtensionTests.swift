import GatehouseModel
import Testing

@testable import GatehouseOpenAPI

/// `x-gatehouse` at document, path and operation level, and overlays.
@Suite struct ExtensionTests {
    static let layered = SpecFixture(
        """
        openapi: 3.0.3
        info: { title: shop, version: "1" }
        x-gatehouse:
          tags: [team-a]
          timeouts: { read: 30s }
          policies:
            limit: { type: rate-limit, config: { limit: 100, window: 1m } }
            quota: { type: quota, config: { limit: 1000, period: day, redis_url: "redis://127.0.0.1:6379" } }
        paths:
          /orders:
            x-gatehouse:
              policies: { limit: { type: rate-limit, config: { limit: 50, window: 1m } } }
            get: { operationId: listOrders }
            post:
              operationId: createOrder
              x-gatehouse:
                strip_path: true
                timeouts: { read: 2m }
                policies: { limit: { type: rate-limit, config: { limit: 5, window: 1s } }, quota: false }
          /health:
            get: { operationId: health, x-gatehouse: { policies: { limit: false, quota: false } } }
        """)

    @Test func policiesMergeDownByNameAndFalseRemovesAnInheritedOne() throws {
        let document = try Self.layered.document(.loopback.with { $0.server = "http://127.0.0.1:9999/api" })
        #expect(document.policy("shop.list-orders.limit")?.config["limit"] == 50)
        #expect(document.policy("shop.list-orders.quota")?.config["limit"] == 1000)
        #expect(document.policy("shop.create-order.limit")?.config["window"] == "1s")
        #expect(document.policy("shop.create-order.quota") == nil)
        #expect(document.policies.filter { $0.route == "shop.health" }.isEmpty)
        #expect(document.policies.allSatisfy { $0.route != nil && $0.header.tags == ["openapi:shop", "team-a"] })
        #expect(document.route("shop.list-orders")?.header.tags == ["openapi:shop", "team-a"])
        // strip_path: the upstream gets the operation's path without the server's.
        #expect(document.route("shop.create-order")?.upstreamPath == "/orders")
        #expect(document.route("shop.list-orders")?.upstreamPath == nil)
        // Timeouts of its own give an operation an upstream of its own.
        #expect(document.route("shop.create-order")?.upstream == "shop.create-order")
        #expect(document.upstreams.map(\.name) == ["shop", "shop.create-order"])
        #expect(document.upstreams.map(\.timeouts.read) == [.seconds(30), .seconds(120)])
    }

    @Test func unknownKeysAndInvalidConfigsAreErrorsWithTheirPointers() {
        let spec = SpecFixture(
            """
            openapi: 3.0.3
            info: { title: t, version: "1" }
            x-gatehouse: { upstreams: x }
            paths:
              /pets:
                get:
                  x-gatehouse:
                    polices: {}
                    policies:
                      limit: { type: rate-limit, config: { limit: 0, window: 1m } }
                      cors: { type: cors, config: { allow_origins: ["https://a.example.com/"] } }
                      odd: { type: waf }
                      extra: { type: quota, conf: {} }
                    timeouts: { read: soon }
            """)
        #expect(
            spec.refusal() == [
                "spec.yaml#/x-gatehouse/upstreams: unknown key; x-gatehouse has name, upstream, strip_path, validate, timeouts, tags, policies",
                "spec.yaml#/paths/~1pets/get/x-gatehouse/polices: unknown key; x-gatehouse has name, upstream, strip_path, validate, timeouts, tags, policies",
                "spec.yaml#/paths/~1pets/get/x-gatehouse/timeouts/read: must be a duration greater than zero, such as 250ms, 10s or 1m",
                "spec.yaml#/paths/~1pets/get/x-gatehouse/policies/cors/config/allow_origins/0: 'https://a.example.com/' has a path or trailing slash; an origin is scheme://host[:port]",
                "spec.yaml#/paths/~1pets/get/x-gatehouse/policies/extra/conf: unknown key; a policy has type and config",
                "spec.yaml#/paths/~1pets/get/x-gatehouse/policies/limit/config/limit: must be between 1 and 2147483647, got 0",
                "spec.yaml#/paths/~1pets/get/x-gatehouse/policies/odd/type: 'waf' is not a policy type: use one of cors, key-auth, jwt, oauth2-introspection, basic-auth, rate-limit, quota, request-validation, acl, ip-restriction, request-transformer, response-transformer",
            ])
    }

    @Test func severalLimitsOnAnOperationHaveDifferentNamesAndTwoCORSPoliciesAreRefusedNamingThePlace() throws {
        let limits = SpecFixture(
            """
            openapi: 3.0.3
            info: { title: t, version: "1" }
            paths:
              /pets:
                get:
                  x-gatehouse:
                    policies:
                      per-second: { type: rate-limit, config: { limit: 5, window: 1s } }
                      per-hour: { type: rate-limit, config: { limit: 500, window: 1h } }
            """)
        let document = try limits.document()
        #expect(document.policies.map(\.name) == ["t.get.pets.per-hour", "t.get.pets.per-second"])
        #expect(document.policies.allSatisfy { $0.route == "t.get.pets" && $0.type == .rateLimit })
        let cors = SpecFixture(
            """
            openapi: 3.0.3
            info: { title: t, version: "1" }
            paths:
              /pets:
                get:
                  x-gatehouse:
                    policies:
                      web: { type: cors, config: { allow_origins: ["https://a.example"] } }
                      partner: { type: cors, config: { allow_origins: ["https://b.example"] } }
            """)
        let problems = cors.refusal()
        #expect(problems.count == 1)
        #expect(problems.first?.hasPrefix("spec.yaml#/paths/~1pets/get/x-gatehouse/policies/") == true)
        #expect(problems.first?.contains("are both enabled cors policies for route 't.get.pets'") == true)
    }

    @Test func timeoutsCannotGoToAnUpstreamTheImportDoesNotDefine() {
        #expect(
            Self.layered.refusal(OpenAPIImportOptions().with { $0.upstream = "shared" }) == [
                "spec.yaml#/x-gatehouse/timeouts: timeouts belong to an upstream; 'shared' is not one this import defines (drop --upstream or x-gatehouse.upstream)",
                "spec.yaml#/paths/~1orders/post/x-gatehouse/timeouts: timeouts belong to an upstream; 'shared' is not one this import defines (drop --upstream or x-gatehouse.upstream)",
            ])
    }

    @Test func anOverlaySetsTheSameThingsByOperationIdTagOrMethodAndPath() throws {
        let spec = SpecFixture(
            """
            openapi: 3.0.3
            info: { title: vendor, version: "1" }
            paths:
              /items: { get: { operationId: listItems, tags: [items] }, post: { operationId: addItem, tags: [items] } }
              /items/{id}: { delete: { operationId: dropItem } }
            """)
        let overlay = """
            x-gatehouse: { policies: { limit: { type: rate-limit, config: { limit: 100, window: 1m } } } }
            operations:
              - { operationId: listItems, x-gatehouse: { name: items, policies: { limit: { type: rate-limit, config: { limit: 7, window: 1m } } } } }
              - { tag: items, x-gatehouse: { tags: [catalogue] } }
              - { method: delete, path: "/items/{id}", x-gatehouse: { policies: { limit: false } } }
            """
        let document = try spec.document(overlay: overlay)
        #expect(document.routes.map(\.name) == ["vendor.add-item", "vendor.drop-item", "vendor.items"])
        #expect(document.policy("vendor.items.limit")?.config["limit"] == 7)
        #expect(document.policy("vendor.add-item.limit")?.config["limit"] == 100)
        #expect(document.policy("vendor.drop-item.limit") == nil)
        #expect(document.route("vendor.add-item")?.header.tags == ["catalogue", "openapi:vendor"])
        #expect(document.route("vendor.drop-item")?.header.tags == ["openapi:vendor"])

        let stale = "operations:\n  - { operationId: removed, x-gatehouse: { tags: [x] } }\n  - { tag: items, path: /x, x-gatehouse: {} }\n"
        #expect(
            spec.refusal(overlay: stale) == [
                "overlay.yaml#/operations/1: select operations by exactly one of: operationId, tag, or method and path (strings)",
                "overlay.yaml#/operations/0: selects no operation of spec.yaml",
            ])
    }
}

extension ExtensionTests {
    @Test func anAnonymousConsumerOrAnUpstreamOfAnotherOwnerMayBeNamedWithoutBeingDefined() throws {
        let spec = SpecFixture(
            """
            openapi: 3.0.3
            info: { title: t, version: "1" }
            paths:
              /pets:
                get:
                  x-gatehouse:
                    upstream: shared-api
                    policies: { auth: { type: key-auth, config: { anonymous: guest } } }
            """)
        let document = try spec.document(OpenAPIImportOptions())
        #expect(document.upstreams.isEmpty && document.consumers.isEmpty)
        #expect(document.route("t.get.pets")?.upstream == "shared-api")
        #expect(document.policy("t.get.pets.auth")?.config["anonymous"] == "guest")
        // The explicit key-auth policy replaces what security schemes would give.
        #expect(document.policy("t.get.pets.security") == nil)
    }
}
