import GatehouseModel
import Testing

/// Admission of `oauth2-introspection` and `basic-auth` configs: defaults filled in, every mistake
/// named by its field.
@Suite struct IdentityConfigTests {
    func refusal(_ type: String, _ config: JSONValue) -> ConfigError? {
        do {
            _ = try Policy.read(["name": "p", "type": .string(type), "config": config])
            return nil
        } catch {
            return error
        }
    }

    static let introspection: JSONValue = ["introspection_url": "https://auth.example.com/o/introspect/", "client_id": "gw", "client_secret": "s"]

    @Test func introspectionConfigsGetTheirDefaults() throws {
        let policy = try Policy.read(["name": "p", "type": "oauth2-introspection", "config": Self.introspection])
        #expect(policy.type.phase == .authentication)
        let config = policy.config
        #expect(config["client_auth"] == "basic")
        #expect(config["token_type_hint"] == "access_token")
        #expect(config["max_ttl"] == "5m")
        #expect(config["negative_ttl"] == "10s")
        #expect(config["stale_if_error"] == "1m")
        #expect(config["timeout"] == "2s")
        #expect(config["max_in_flight"] == 16)
        #expect(config["breaker_failures"] == 5)
        #expect(config["breaker_cooldown"] == "10s")
        #expect(config["redis_url"] == .null)
        #expect(config["header"] == "authorization")
        #expect(config["hide_credentials"] == true)
        // Written with its defaults or without, one value.
        #expect(try Policy.read(["name": "p", "type": "oauth2-introspection", "config": config]).config == config)
    }

    @Test func introspectionMistakesAreNamed() {
        func with(_ changes: [String: JSONValue?]) -> JSONValue { Self.introspection.merging(patch: .object(changes.mapValues { $0 ?? .null })) }
        for (config, field) in [
            (with(["introspection_url": nil]), "config.introspection_url"),
            (with(["introspection_url": "ftp://auth.example.com/"]), "config.introspection_url"),
            (with(["introspection_url": "https://user:pass@auth.example.com/"]), "config.introspection_url"),
            (with(["introspection_url": "https:///introspect"]), "config.introspection_url"),
            (with(["introspection_url": "http://127.0.0.1:99999/i"]), "config.introspection_url"),
            (with(["introspection_url": "http://auth.example.com:0/i"]), "config.introspection_url"),
            (with(["introspection_url": "http://auth.example.com:80x/i"]), "config.introspection_url"),
            (with(["introspection_url": "https://auth.example.com/i#part"]), "config.introspection_url"),
            (with(["client_id": nil]), "config.client_id"),
            (with(["client_secret": ""]), "config.client_secret"),
            (with(["client_secret": "line\r\nbreak"]), "config.client_secret"),
            (with(["client_auth": "jwt"]), "config.client_auth"),
            (with(["token_type_hint": "a&b"]), "config.token_type_hint"),
            (with(["max_ttl": "0s"]), "config.max_ttl"),
            (with(["negative_ttl": "1h"]), "config.negative_ttl"),
            (with(["timeout": "50ms"]), "config.timeout"),
            (with(["max_in_flight": 0]), "config.max_in_flight"),
            (with(["breaker_failures": 0]), "config.breaker_failures"),
            (with(["redis_url": "http://redis"]), "config.redis_url"),
            (with(["required_scopes": ["two words"]]), "config.required_scopes[0]"),
            (with(["forward_claims": ["sub": "Authorization"]]), "config.forward_claims.sub"),
            (with(["extra": true]), "config.extra"),
        ] as [(JSONValue, String)] {
            #expect(refusal("oauth2-introspection", config)?.field == field, "\(config)")
        }
    }

    @Test func introspectionURLsMayNameAPortAndAnIPv6Host() throws {
        for url in ["http://127.0.0.1:8080/introspect", "https://[::1]:8443/o/introspect/?tenant=a", "https://[2001:db8::1]/i", "http://auth:65535"] {
            #expect(refusal("oauth2-introspection", Self.introspection.merging(patch: ["introspection_url": .string(url)])) == nil, "\(url)")
        }
    }

    @Test func storedPasswordHashesMustUseSaneIterations() {
        func refusal(_ hash: String) -> String? {
            do {
                _ = try Consumer.read([
                    "name": "alice", "credentials": [["type": "basic-auth", "username": "alice", "password_hash": .string(hash)]],
                ])
                return nil
            } catch {
                return error.field
            }
        }
        let (salt, digest) = (String(repeating: "ab", count: 16), String(repeating: "cd", count: 32))
        #expect(refusal("pbkdf2-sha256$100000$\(salt)$\(digest)") == nil)
        for iterations in ["0", "1", "9999", "1000001", "100000000000000000000", "x"] {
            #expect(refusal("pbkdf2-sha256$\(iterations)$\(salt)$\(digest)") == "credentials[0].password_hash", "\(iterations)")
        }
        #expect(refusal("pbkdf2-sha256$100000$\(salt)$abcd") == "credentials[0].password_hash")
        #expect(refusal("pbkdf2-sha256$100000$zz$\(digest)") == "credentials[0].password_hash")
    }

    @Test func basicAuthConfigsGetTheirDefaultsAndMistakesAreNamed() throws {
        let policy = try Policy.read(["name": "p", "type": "basic-auth"])
        #expect(policy.type.phase == .authentication)
        #expect(
            policy.config == [
                "realm": "gatehouse", "cache_ttl": "1m", "cache_size": 10_000, "failures_per_minute": 10, "hide_credentials": true,
                "anonymous": .null,
            ])
        for (config, field) in [
            (["realm": "say \"hi\""], "config.realm"), (["realm": ""], "config.realm"), (["cache_ttl": "2h"], "config.cache_ttl"),
            (["failures_per_minute": 0], "config.failures_per_minute"), (["anonymous": "Not A Name"], "config.anonymous"),
            (["password": "x"], "config.password"),
        ] as [(JSONValue, String)] {
            #expect(refusal("basic-auth", config)?.field == field, "\(config)")
        }
    }
}
