import GatehouseModel
import Testing

@Suite struct EntityValidationTests {
    let id = "00000000-0000-4000-8000-000000000001"

    private func field(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return "no error"
        } catch {
            return (error as? ConfigError)?.field ?? "not a ConfigError: \(error)"
        }
    }

    @Test func upstreamDefaultsAreFilledIn() throws {
        let upstream = try Upstream.read(["name": "api", "targets": [["target": "10.0.0.1:8080"]]], id: id)
        #expect(upstream.targets == [UpstreamTarget(host: "10.0.0.1", port: 8080, weight: 100)])
        #expect(upstream.algorithm == .roundRobin)
        #expect(upstream.timeouts.connect == .seconds(5))
        #expect(upstream.json()["timeouts"]?["read"] == "1m")
    }

    @Test func unknownFieldsAreRefusedByName() {
        #expect(field { _ = try Upstream.read(["name": "api", "colour": "red"], id: id) } == "colour")
        #expect(field { _ = try Upstream.read(["name": "api", "timeouts": ["connect": "1s", "idle": "1s"]], id: id) } == "timeouts.idle")
    }

    @Test func wrongTypesNameTheField() {
        #expect(field { _ = try Route.read(["name": "r", "upstream": "u", "strip_path": "yes"], id: id) } == "strip_path")
        #expect(field { _ = try Route.read(["name": "r", "upstream": "u", "paths": ["/a", 3]], id: id) } == "paths[1]")
        #expect(field { _ = try Upstream.read(["name": "api", "retries": .double(1.5)], id: id) } == "retries")
    }

    @Test(arguments: ["", "Upper", "-lead", "has space", "ünïcode", String(repeating: "a", count: 129)])
    func badNamesAreRefused(name: String) {
        #expect(field { _ = try Upstream.read(["name": .string(name)], id: id) } == "name")
    }

    /// A custom id goes upstream in a header: it cannot break the header's line.
    @Test(arguments: ["", "a\r\nX-Admin: 1", "tab\tbefore", "nul\u{0}", String(repeating: "a", count: 257)])
    func badCustomIDsAreRefused(customID: String) {
        #expect(field { _ = try Consumer.read(["name": "c", "custom_id": .string(customID)], id: id) } == "custom_id")
    }

    @Test(arguments: ["10.0.0.1", "host:0", "host:70000", ":80", "a..b:80", "[::1:80", "-x.com:80", "exa mple:80"])
    func badTargetsAreRefused(target: String) {
        #expect(field { _ = try Upstream.read(["name": "api", "targets": [["target": .string(target)]]], id: id) } == "targets[0].target")
    }

    @Test func ipv6AndDNSTargetsAreAccepted() throws {
        let upstream = try Upstream.read(["name": "api", "targets": [["target": "[::1]:8080"], ["target": "Svc.Local:80", "weight": 5]]], id: id)
        #expect(upstream.targets.map(\.target) == ["[::1]:8080", "svc.local:80"])
    }

    @Test func passiveHealthChecksAreReadAndActiveOnesRefused() throws {
        let upstream = try Upstream.read(["name": "api", "health_checks": ["passive": ["failures": 2]]], id: id)
        #expect(upstream.passiveHealth?.failures == 2)
        #expect(upstream.passiveHealth?.cooldown == .seconds(10))
        #expect(upstream.json()["health_checks"]?["passive"]?["cooldown"] == "10s")
        #expect(field { _ = try Upstream.read(["name": "api", "health_checks": ["active": ["path": "h"]]], id: id) } == "health_checks.active.path")
        #expect(
            field { _ = try Upstream.read(["name": "api", "health_checks": ["passive": ["failures": 0]]], id: id) }
                == "health_checks.passive.failures")
    }

    @Test func durationsNeedAUnit() {
        #expect(Duration(configText: "250ms") == .milliseconds(250))
        #expect(Duration(configText: "2h") == .seconds(7200))
        #expect(Duration(configText: "10") == nil)
        #expect(Duration(configText: "1.5s") == nil)
        #expect(field { _ = try Upstream.read(["name": "api", "timeouts": ["read": "10"]], id: id) } == "timeouts.read")
        #expect(field { _ = try Upstream.read(["name": "api", "timeouts": ["read": "0s"]], id: id) } == "timeouts.read")
    }

    @Test func routeRulesAreNormalized() throws {
        let route = try Route.read(
            [
                "name": "r", "upstream": "u", "hosts": ["API.example.com", "*.Example.com"], "paths": ["/b/", "/a"],
                "methods": ["post", "GET", "get"],
            ],
            id: id
        )
        #expect(route.hosts == ["*.example.com", "api.example.com"])
        #expect(route.paths == ["/a", "/b"])
        #expect(route.methods == ["GET", "POST"])
    }

    @Test(arguments: ["relative", "/a/../b", "/a//b", "/a?x", "/{1d}", "/a{id}", "/{id}/{id}", "=relative"])
    func badPathsAreRefused(path: String) {
        #expect(field { _ = try Route.read(["name": "r", "upstream": "u", "paths": [.string(path)]], id: id) } == "paths[0]")
    }

    @Test func templatesAndExactPathsAreNormalized() throws {
        let route = try Route.read(["name": "r", "upstream": "u", "paths": ["/recipes/{id}/", "=/items/{id}"], "upstream_path": "/v2/{id}"], id: id)
        #expect(route.paths == ["/recipes/{id}", "=/items/{id}"].sorted())
        #expect(route.upstreamPath == "/v2/{id}")
        #expect(
            field {
                _ = try Route.read(["name": "r", "upstream": "u", "paths": ["/recipes/{id}", "=/healthz"], "upstream_path": "/v2/{id}"], id: id)
            } == "upstream_path")
        #expect(
            field { _ = try Route.read(["name": "r", "upstream": "u", "paths": ["/recipes/{id}"], "upstream_path": "/v2/{slug}"], id: id) }
                == "upstream_path")
        #expect(field { _ = try Route.read(["name": "r", "upstream": "u", "upstream_path": "/v2/{id}"], id: id) } == "upstream_path")
    }

    @Test func corsRefusesCredentialsWithWildcardAndBadOrigins() {
        let policy: (JSONValue) -> String? = { config in
            field { _ = try Policy.read(["name": "p", "type": "cors", "config": config], id: id) }
        }
        #expect(policy(["allow_origins": ["*"], "allow_credentials": true]) == "config.allow_credentials")
        #expect(policy(["allow_origins": ["https://a.example.com/"]]) == "config.allow_origins[0]")
        #expect(policy(["allow_origins": ["null"]]) == "config.allow_origins[0]")
        #expect(policy(["allow_origins": ["https://*.example.com"], "allow_methods": ["GET", "BAD METHOD"]]) == "config.allow_methods[1]")
        #expect(policy(["allow_origins": ["https://*.example.com", "http://localhost:3000"]]) == "no error")
        #expect(policy(["allow_origins": ["null"], "allow_null_origin": true]) == "no error")
        #expect(policy(["allow_origins": ["https://a.example.com"], "allow_null_origin": true]) == "config.allow_null_origin")
        #expect(policy(["allow_origins": ["*", "https://a.example.com"]]) == "config.allow_origins")
        #expect(policy(["allow_origins": ["https://a.example.com"], "expose_headers": ["*"], "allow_credentials": true]) == "config.expose_headers")
        #expect(policy(["allow_origins": ["https://A.example.com"]]) == "config.allow_origins[0]")
        #expect(policy(["allow_origins": ["ftp://a.example.com"]]) == "config.allow_origins[0]")
    }

    @Test func onlyPoliciesAfterAuthenticationCanBeScopedToAConsumer() {
        let scoped: (String, JSONValue) -> String? = { type, config in
            field { _ = try Policy.read(["name": "p", "type": .string(type), "consumer": "partner", "config": config], id: id) }
        }
        #expect(scoped("cors", ["allow_origins": ["*"]]) == "consumer")
        #expect(scoped("key-auth", [:]) == "consumer")
        #expect(scoped("rate-limit", ["limit": 1, "window": "1s"]) == "no error")
        #expect(scoped("quota", ["limit": 1, "period": "day", "redis_url": "redis://127.0.0.1:6379"]) == "no error")
    }

    @Test func aQuotaNeedsRedis() {
        #expect(
            field { _ = try Policy.read(["name": "q", "type": "quota", "config": ["limit": 5, "period": "day"]], id: id) } == "config.redis_url")
        #expect(
            field {
                _ = try Policy.read(["name": "q", "type": "quota", "config": ["limit": 5, "period": "week", "redis_url": "redis://r:1"]], id: id)
            } == "config.period")
        #expect(
            field { _ = try Policy.read(["name": "q", "type": "quota", "config": ["limit": 5, "period": "day", "redis_url": "redis://r"]], id: id) }
                == "config.redis_url")
    }

    @Test func rateLimitConfigIsCheckedPerBackend() throws {
        let read: (JSONValue) throws -> Policy = { config in
            try Policy.read(["name": "p", "type": "rate-limit", "config": config], id: id)
        }
        #expect(field { _ = try read(["limit": 10, "window": "1m", "backend": "redis"]) } == "config.redis_url")
        #expect(field { _ = try read(["limit": 10, "window": "1m", "by": "header"]) } == "config.header_name")
        #expect(field { _ = try read(["limit": 0, "window": "1m"]) } == "config.limit")
        let policy = try read(["limit": 10, "window": "60s"])
        #expect(policy.config["window"] == "1m")
        #expect(policy.config["by"] == "consumer")
        #expect(policy.config["fail_open"] == true)
    }

    @Test func serverAssignedIDCannotBeChanged() {
        #expect(field { _ = try Upstream.read(["name": "api", "id": "00000000-0000-4000-8000-000000000009"], id: id) } == "id")
        #expect(field { _ = try Upstream.read(["name": "api", "id": .string(id)], id: id) } == "no error")
    }

    @Test func keyAuthKeysAreStoredHashedOnly() throws {
        let (credential, key) = try Credential.create(["type": "key-auth"], id: id, randomKey: { "generated-key-0123456789" })
        #expect(key == "generated-key-0123456789")
        #expect(credential.secret == .keyAuth(keyHash: Credential.hashKey("generated-key-0123456789")))
        #expect(!credential.json().canonicalString.contains("generated-key"))
        #expect(credential.publicJSON(consumer: "c")["key_hash"] == nil)
    }

    @Test func basicAuthPasswordsAreSaltedHashes() throws {
        let (a, _) = try Credential.create(["type": "basic-auth", "username": "u", "password": "correct horse"], id: id, randomKey: { "" })
        let (b, _) = try Credential.create(["type": "basic-auth", "username": "u", "password": "correct horse"], id: id, randomKey: { "" })
        guard case .basicAuth(_, let hashA) = a.secret, case .basicAuth(_, let hashB) = b.secret else {
            Issue.record("not basic-auth")
            return
        }
        #expect(hashA.hasPrefix("pbkdf2-sha256$"))
        #expect(hashA != hashB)
        #expect(!hashA.contains("correct horse"))
    }
}
