import GatehouseModel
import Testing

@testable import GatehouseOpenAPI

/// Security schemes mapped (never dropped) and CORS derived from what the spec declares.
@Suite struct SecurityAndCORSTests {
    static let secured = SpecFixture(
        """
        openapi: 3.1.0
        info: { title: api, version: "1" }
        security: [{ header_key: [] }]
        components:
          securitySchemes:
            header_key: { type: apiKey, in: header, name: X-API-Key }
            query_key: { type: apiKey, in: query, name: api_key }
            cookie_key: { type: apiKey, in: cookie, name: session }
            bearer: { type: http, scheme: bearer }
          parameters:
            tenant: { name: X-Tenant, in: header }
        x-gatehouse:
          policies: { cors: { type: cors, config: { allow_origins: ["https://app.example.com"] } } }
        paths:
          /items:
            parameters: [{ $ref: "#/components/parameters/tenant" }]
            get: { operationId: listItems, parameters: [{ name: X-Page-Token, in: header }, { name: q, in: query }] }
            post:
              operationId: addItem
              requestBody: { content: { application/json: {} } }
          /items/{id}:
            put: { operationId: putItem, security: [{ query_key: [] }, { header_key: [] }] }
            delete: { operationId: dropItem, security: [{ cookie_key: [] }] }
          /public:
            get: { operationId: open, security: [] }
          /both:
            get: { operationId: both, security: [{ header_key: [], bearer: [] }] }
          /optional:
            get: { operationId: optional, security: [{}, { header_key: [] }] }
        """)

    @Test func apiKeySchemesBecomeKeyAuthAndSecurityEmptyNeedsNone() throws {
        let output = try Self.secured.run()
        let document = try ConfigDocument.read(output.document)
        #expect(document.policy("api.list-items.security")?.config["key_names"] == ["x-api-key"])
        #expect(document.policy("api.put-item.security")?.config["key_names"] == ["api_key", "x-api-key"])
        #expect(document.policy("api.open.security") == nil)
        #expect(document.policy("api.optional.security") == nil)
        #expect(document.policies.allSatisfy { $0.route != nil })
    }

    @Test func whatCannotBeEnforcedIsAWarningWithItsPointerAndStrictMakesItAnError() throws {
        let warnings = try Self.secured.run().warnings.map(\.description)
        #expect(
            warnings == [
                "spec.yaml#/paths/~1both/get/security/0: not enforced: requires bearer AND header_key together; a route takes one authentication policy; served WITHOUT authentication",
                "spec.yaml#/paths/~1items~1{id}/delete/security/0/cookie_key: not enforced: apiKey scheme 'cookie_key' is sent in a cookie; key-auth reads headers and query parameters; served WITHOUT authentication",
            ])
        let strict = Self.secured.refusal(.loopback.with { $0.strict = true })
        #expect(strict == warnings)
    }

    @Test func corsAllowsThePathsDeclaredMethodsAndHeadersAndTheAPIKeyHeader() throws {
        let document = try Self.secured.document()
        let items = try #require(document.policy("api.list-items.cors")?.config)
        #expect(items["allow_methods"] == ["GET", "POST"])
        // Header parameters of the path and its operations, the key header, and content-type for the JSON body.
        #expect(items["allow_headers"] == ["content-type", "x-api-key", "x-page-token", "x-tenant"])
        #expect(document.policy("api.add-item.cors")?.config == items)
        let one = try #require(document.policy("api.put-item.cors")?.config)
        #expect(one["allow_methods"] == ["DELETE", "PUT"] && one["allow_headers"] == ["x-api-key"])
        #expect(document.policy("api.open.cors")?.config["allow_headers"] == [])
    }
}

extension SecurityAndCORSTests {
    @Test func aRequirementNamingNoDefinedSchemeIsAnError() {
        let spec = SpecFixture(
            """
            openapi: 3.0.3
            info: { title: t, version: "1" }
            paths: { /a: { get: { security: [{ missing: [] }] } } }
            """)
        #expect(
            spec.refusal() == [
                "spec.yaml#/paths/~1a/get/security/0/missing: no security scheme 'missing' is defined (#/components/securitySchemes/missing)"
            ])
    }
}

extension SecurityAndCORSTests {
    static let tokens = SpecFixture(
        """
        openapi: 3.0.3
        info: { title: api, version: "1" }
        components:
          securitySchemes:
            key: { type: apiKey, in: header, name: X-API-Key }
            basic: { type: http, scheme: basic }
            bearer: { type: http, scheme: bearer, bearerFormat: JWT }
            oidc: { type: openIdConnect, openIdConnectUrl: "https://id.example.com/.well-known/openid-configuration" }
        paths:
          /either: { get: { operationId: either, security: [{ key: [] }, { basic: [] }] } }
          /password: { get: { operationId: password, security: [{ basic: [] }] } }
          /token: { get: { operationId: token, security: [{ oidc: [orders] }] } }
          /declared:
            get:
              operationId: declared
              security: [{ bearer: [] }]
              x-gatehouse:
                policies:
                  tokens: { type: jwt, config: { algorithms: [RS256], jwks_uri: "https://id.example.com/jwks" } }
        """)

    @Test func httpBasicBecomesBasicAuthBesideAnAPIKeyAndTokensAskForAPolicyOfTheirOwn() throws {
        let output = try Self.tokens.run()
        let document = try ConfigDocument.read(output.document)
        #expect(document.policy("api.either.security")?.type == .keyAuth)
        #expect(document.policy("api.either.basic-auth")?.type == .basicAuth)
        #expect(document.policy("api.password.basic-auth")?.type == .basicAuth)
        #expect(document.policy("api.password.security") == nil)
        #expect(document.policy("api.declared.tokens")?.type == .jwt)
        // A token scheme names neither keys nor a server: a warning, unless x-gatehouse declares one.
        #expect(
            output.warnings.map(\.description) == [
                "spec.yaml#/paths/~1token/get/security/0/oidc: not enforced: scheme 'oidc' is openIdConnect: the spec does not say which keys or which server check its tokens; declare a jwt or oauth2-introspection policy in x-gatehouse; served WITHOUT authentication"
            ])
    }
}
