import GatehouseModel
import Testing

/// Admission of `acl`, `ip-restriction` and the transformers' configs: every mistake names
/// its field, and what they need of the routes they run on is checked over the document.
@Suite struct AccessAndTransformConfigTests {
    func refusal(_ type: String, _ config: JSONValue) -> ConfigError? {
        do {
            _ = try Policy.read(["name": "p", "type": .string(type), "config": config])
            return nil
        } catch {
            return error
        }
    }

    @Test func aclConfigsAreNormalizedAndMistakesNamed() throws {
        let policy = try Policy.read(["name": "p", "type": "acl", "config": ["allow": ["staff", "admins", "staff"]]])
        #expect(policy.config == ["allow": ["admins", "staff"], "deny": .null, "hide_groups_header": false])
        #expect(policy.type.phase == .authorization)
        for (config, field) in [
            ([:], "config.allow"), (["allow": []], "config.allow"), (["allow": ["a"], "deny": ["b"]], "config.deny"),
            (["deny": ["Not A Group"]], "config.deny[0]"), (["allow": ["a"], "hide": true], "config.hide"),
        ] as [(JSONValue, String)] {
            #expect(refusal("acl", config)?.field == field, "\(config)")
        }
        let scoped = #expect(throws: ConfigError.self) {
            try Policy.read(["name": "p", "type": "acl", "consumer": "bob", "config": ["allow": ["a"]]])
        }
        #expect(scoped?.field == "consumer")
    }

    @Test func ipRestrictionTakesIPv4AndIPv6CIDRsAndNamesABadOne() throws {
        let policy = try Policy.read(["name": "p", "type": "ip-restriction", "config": ["deny": ["2001:db8::/32", "10.0.0.1"]]])
        #expect(policy.config == ["allow": [], "deny": ["2001:db8::/32", "10.0.0.1"]])
        #expect(policy.type.phase == .ipRestriction)
        #expect(PolicyPhase.ipRestriction > .preflight && PolicyPhase.ipRestriction < .authentication)
        for (config, field) in [
            ([:], "config.allow"), (["allow": []], "config.allow"), (["allow": ["10.0.0.0/33"]], "config.allow[0]"),
            (["allow": ["10.0.0.0/8", "fe80::/129"]], "config.allow[1]"), (["deny": ["example.com"]], "config.deny[0]"),
            (["deny": ["10.0.0.0/+8"]], "config.deny[0]"),
        ] as [(JSONValue, String)] {
            #expect(refusal("ip-restriction", config)?.field == field, "\(config)")
        }
    }

    @Test func rangesMatchIPv4IPv6AndMappedAddresses() throws {
        let v6 = try #require(IPRange("2001:db8:1::/48"))
        #expect(v6.contains("2001:db8:1:ffff::1"))
        #expect(!v6.contains("2001:db8:2::1"))
        #expect(!v6.contains("10.0.0.1"))
        let v4 = try #require(IPRange("10.1.2.3/8"))
        #expect(v4.contains("10.200.0.1"))
        #expect(v4.contains("::ffff:10.9.9.9"))
        #expect(!v4.contains("11.0.0.1"))
        #expect(IPRange("::1")?.contains("::1") == true)
        #expect(IPRange("::1")?.contains("::2") == false)
        #expect(IPRange("0.0.0.0/0")?.contains("203.0.113.9") == true)
        #expect(IPRange("::/0")?.contains("fe80::1") == true)
    }

    @Test func transformerConfigsAreNormalized() throws {
        let policy = try Policy.read([
            "name": "p", "type": "request-transformer",
            "config": ["set": ["headers": ["X-User": "$(consumer.name)"]], "remove": ["query": ["debug"]]],
        ])
        #expect(
            policy.config == [
                "remove": ["headers": [], "query": ["debug"]], "rename": ["headers": [:], "query": [:]],
                "set": ["headers": ["x-user": "$(consumer.name)"], "query": [:]], "add": ["headers": [:], "query": [:]],
            ])
    }

    @Test func transformerMistakesAreRefusedAtTheirField() {
        let cases: [(String, JSONValue, String)] = [
            ("request-transformer", [:], "config"),
            ("request-transformer", ["set": ["headers": ["X-A": "a\r\nX-B: b"]]], "config.set.headers.X-A"),
            ("request-transformer", ["add": ["headers": ["X-A": "nul\u{0}"]]], "config.add.headers.X-A"),
            ("request-transformer", ["add": ["headers": ["X-A": "$(consumer.password)"]]], "config.add.headers.X-A"),
            ("request-transformer", ["add": ["headers": ["X-A": "$(path.id"]]], "config.add.headers.X-A"),
            ("request-transformer", ["set": ["query": ["a": "line\nbreak"]]], "config.set.query.a"),
            ("request-transformer", ["set": ["headers": ["Content-Length": "0"]]], "config.set.headers.Content-Length"),
            ("request-transformer", ["remove": ["headers": ["x-ok", "Transfer-Encoding"]]], "config.remove.headers[1]"),
            ("request-transformer", ["rename": ["headers": ["X-A": "Connection"]]], "config.rename.headers.X-A"),
            ("request-transformer", ["set": ["headers": ["Host": "a"]]], "config.set.headers.Host"),
            ("request-transformer", ["add": ["headers": ["Proxy-Authorization": "a"]]], "config.add.headers.Proxy-Authorization"),
            ("request-transformer", ["set": ["headers": ["X-Consumer-Groups": "admins"]]], "config.set.headers.X-Consumer-Groups"),
            ("request-transformer", ["set": ["headers": ["Upgrade": "h2c"]]], "config.set.headers.Upgrade"),
            ("request-transformer", ["set": ["query": ["a b": "x"]]], "config.set.query.a b"),
            ("request-transformer", ["append": ["headers": [:]]], "config.append"),
            ("response-transformer", ["set": ["query": ["a": "b"]]], "config.set.query"),
            ("response-transformer", ["set": ["headers": ["Transfer-Encoding": "chunked"]]], "config.set.headers.Transfer-Encoding"),
            ("response-transformer", ["add": ["headers": ["Keep-Alive": "1"]]], "config.add.headers.Keep-Alive"),
            ("response-transformer", ["rename": ["headers": ["TE": "x"]]], "config.rename.headers.TE"),
        ]
        for (type, config, field) in cases {
            #expect(refusal(type, config)?.field == field, "\(config)")
        }
        // The response may carry what the gateway writes into requests.
        #expect(refusal("response-transformer", ["set": ["headers": ["X-Request-Id": "a"]]]) == nil)
    }

    func document(routePaths: [String], policies: [JSONValue]) throws -> ConfigDocument {
        var document = ConfigDocument()
        document.upstreams = [try Upstream.read(["name": "u", "targets": [["target": "127.0.0.1:9"]]], id: "00000000-0000-4000-8000-000000000001")]
        document.routes = [
            try Route.read(
                ["name": "r", "paths": .array(routePaths.map(JSONValue.string)), "upstream": "u"], id: "00000000-0000-4000-8000-000000000002")
        ]
        document.policies = try policies.enumerated().map { index, policy in
            try Policy.read(policy, id: "00000000-0000-4000-8000-00000000010\(index)")
        }
        return document
    }

    @Test func anACLNeedsAnAuthenticationPolicyOnItsRoute() throws {
        let acl: JSONValue = ["name": "staff-only", "type": "acl", "route": "r", "config": ["allow": ["staff"]]]
        let refused = #expect(throws: ConfigError.self) { try document(routePaths: ["/a"], policies: [acl]).validate() }
        #expect(refused?.message.contains("staff-only") == true)
        #expect(refused?.message.contains("no authentication policy") == true)
        #expect(refused?.code == .invalid)
        try document(routePaths: ["/a"], policies: [acl, ["name": "auth", "type": "key-auth"]]).validate()
        try document(routePaths: ["/a"], policies: [acl, ["name": "auth", "type": "key-auth", "route": "r"]]).validate()
        // Disabled, the acl asks nothing.
        try document(routePaths: ["/a"], policies: [["name": "staff-only", "type": "acl", "enabled": false, "config": ["allow": ["staff"]]]])
            .validate()
    }

    @Test func aRouteAddedUnderAGlobalACLWithoutAuthenticationIsRefusedEvenAsASmallChange() throws {
        let old = try document(
            routePaths: ["/a"],
            policies: [
                ["name": "staff-only", "type": "acl", "config": ["allow": ["staff"]]], ["name": "auth", "type": "key-auth", "route": "r"],
            ])
        try old.validate()
        var new = old
        new.routes.append(try Route.read(["name": "s", "paths": ["/b"], "upstream": "u"], id: "00000000-0000-4000-8000-000000000003"))
        // The one-route shortcut cannot prove it: the whole document's check decides, and refuses.
        #expect(!new.isValidChange(from: old))
        let refused = #expect(throws: ConfigError.self) { try new.validate() }
        #expect(refused?.message.contains("route 's'") == true)
    }

    @Test func aPathVariableMustBeCapturedByEveryPathOfItsRoutes() throws {
        let transform: JSONValue = ["name": "t", "type": "request-transformer", "config": ["set": ["headers": ["X-Id": "$(path.id)"]]]]
        try document(routePaths: ["/items/{id}"], policies: [transform]).validate()
        let refused = #expect(throws: ConfigError.self) { try document(routePaths: ["/items/{id}", "/items"], policies: [transform]).validate() }
        #expect(refused?.field == "config.set.headers.x-id")
        #expect(refused?.message.contains("'/items' does not capture {id}") == true)
        #expect(throws: ConfigError.self) { try document(routePaths: [], policies: [transform]).validate() }
        let response: JSONValue = [
            "name": "t", "type": "response-transformer", "route": "r", "config": ["add": ["headers": ["X-Id": "$(path.item)"]]],
        ]
        #expect(throws: ConfigError.self) { try document(routePaths: ["/items/{id}"], policies: [response]).validate() }
    }
}
