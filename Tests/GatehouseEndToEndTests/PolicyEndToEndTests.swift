import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

/// Policies set through the admin API of a real `gatehouse serve`, enforced on its proxy port.
@Suite(.serialized) struct PolicyEndToEndTests {
    static let key = "web-app-key-0123456789"

    /// An upstream, route `recipes` and consumer `web-app` (with `key`), created through the admin API.
    func setUp(_ gatehouse: GatehouseProcess, upstream: TestUpstream) async throws {
        let admin = gatehouse.ports.admin
        let answers = [
            try await httpRequest(port: admin, .POST, "/upstreams", json: ["name": "main-api", "targets": [["target": .string(upstream.target)]]]),
            try await httpRequest(
                port: admin, .POST, "/routes",
                json: ["name": "recipes", "paths": ["/api/recipes"], "methods": ["GET", "POST", "PUT"], "upstream": "main-api"]),
            try await httpRequest(port: admin, .POST, "/consumers", json: ["name": "web-app"]),
            try await httpRequest(port: admin, .POST, "/consumers/web-app/credentials", json: ["type": "key-auth", "key": .string(Self.key)]),
        ]
        for answer in answers { #expect(answer.status == 201, "\(answer.text)") }
    }

    @Test func corsKeyAuthAndRateLimitSetThroughTheAdminAPI() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        try await setUp(gatehouse, upstream: upstream)
        let admin = gatehouse.ports.admin
        for policy: JSONValue in [
            [
                "name": "cors-web", "type": "cors", "route": "recipes",
                "config": [
                    "allow_origins": ["https://www.example.com"], "allow_methods": ["GET", "PUT"], "allow_headers": ["apikey", "content-type"],
                ],
            ],
            ["name": "auth", "type": "key-auth"],
            ["name": "limit", "type": "rate-limit", "config": ["limit": 2, "window": "31d"]],
        ] {
            let created = try await httpRequest(port: admin, .POST, "/policies", json: policy)
            #expect(created.status == 201, "\(created.text)")
        }
        let proxy = gatehouse.ports.proxy
        let preflight = try await httpRequest(
            port: proxy, .OPTIONS, "/api/recipes/1",
            headers: [
                ("Origin", "https://www.example.com"), ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "apikey,content-type"),
            ])
        #expect(preflight.status == 204)
        #expect(preflight.header("access-control-allow-origin") == "https://www.example.com")
        let foreign = try await httpRequest(
            port: proxy, .OPTIONS, "/api/recipes/1", headers: [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "PUT")])
        #expect(foreign.status == 204)
        #expect(foreign.header("access-control-allow-origin") == nil)
        #expect(try await httpRequest(port: proxy, .GET, "/api/recipes").status == 401)
        #expect(try await httpRequest(port: proxy, .GET, "/api/recipes", headers: [("apikey", "wrong-key-0123456789")]).status == 401)
        let right = try await httpRequest(port: proxy, .GET, "/api/recipes", headers: [("apikey", Self.key), ("Origin", "https://www.example.com")])
        #expect(right.status == 200)
        #expect(right.json["headers"]?["x-consumer-name"] == ["web-app"])
        #expect(right.header("access-control-allow-origin") == "https://www.example.com")
        #expect(right.header("ratelimit-remaining") == "1")
        #expect(try await httpRequest(port: proxy, .GET, "/api/recipes", headers: [("apikey", Self.key)]).status == 200)
        let limited = try await httpRequest(port: proxy, .GET, "/api/recipes", headers: [("apikey", Self.key)])
        #expect(limited.status == 429)
        #expect(limited.header("retry-after") != nil)
        let metrics = try await httpRequest(port: gatehouse.ports.status, .GET, "/metrics").text
        #expect(metrics.contains("gatehouse_rate_limited_total 1\n"))
        // By the policy that refused and why: one without a key, one with a key of no consumer.
        #expect(metrics.contains(#"gatehouse_auth_failures_total{policy="auth",type="key-auth",reason="missing"} 1"# + "\n"))
        #expect(metrics.contains(#"gatehouse_auth_failures_total{policy="auth",type="key-auth",reason="invalid_key"} 1"# + "\n"))
        #expect(metrics.contains("gatehouse_cors_preflights_total 2\n"))
        #expect(metrics.contains("gatehouse_cors_preflights_refused_total 1\n"))

        // explain, on the admin API and through the CLI.
        let explained = try await httpRequest(
            port: admin, .POST, "/explain",
            json: [
                "method": "PUT", "url": "https://api.example.com/api/recipes/1", "origin": "https://www.example.com",
                "headers": ["content-type": "application/json"],
            ])
        #expect(explained.status == 200)
        #expect(explained.json["route"]?["name"] == "recipes")
        #expect(explained.json["cors"]?["browser"] == "allowed")
        #expect(explained.json["cors"]?["preflight"]?["headers"]?["access-control-allow-methods"] == "GET, PUT")
        #expect(explained.json["authentication"]?["outcome"] == "missing")
        let (status, output) = try await GatehouseProcess.run([
            "explain", "POST", "https://api.example.com/api/recipes", "--origin", "https://www.example.com", "-H", "apikey: \(Self.key)",
            "-H", "X-Trace: 1", "--admin", "http://127.0.0.1:\(admin)",
        ])
        #expect(status == 0)
        #expect(output.contains("route: recipes → upstream 'main-api'"))
        #expect(output.contains("a browser BLOCKS this request"))
        // POST is CORS-safelisted: browsers do not check it against allow_methods.
        #expect(!output.contains("method POST"))
        #expect(output.contains("request header x-trace is not in allow_headers"))
        #expect(output.contains("authentication: key of consumer 'web-app'"))
        #expect(!output.contains(Self.key))
    }

    @Test func unsafeCORSConfigsAreRefusedWithTheirExplanation() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let before = try await httpRequest(port: gatehouse.ports.admin, .GET, "/").json["config_version"]?.intValue ?? -1
        let cases: [(JSONValue, field: String, says: String)] = [
            (
                ["allow_origins": ["*"], "allow_credentials": true], "config.allow_credentials",
                "browsers refuse credentials with the wildcard origin"
            ),
            (["allow_origins": ["null"]], "config.allow_origins[0]", "'null' is the origin of sandboxed frames"),
            (["allow_origins": ["https://www.example.com/"]], "config.allow_origins[0]", "has a path or trailing slash"),
            (["allow_origins": ["https://www.example.com/app"]], "config.allow_origins[0]", "has a path or trailing slash"),
            (["allow_origins": ["https://a.example.com"], "allow_methods": ["GET", "DO IT"]], "config.allow_methods[1]", "is not a token"),
            (
                ["allow_origins": ["https://a.example.com"], "allow_headers": ["*"], "allow_credentials": true], "config.allow_headers",
                "'*' is not a wildcard"
            ),
        ]
        for (config, field, says) in cases {
            let answer = try await httpRequest(
                port: gatehouse.ports.admin, .POST, "/policies", json: ["name": "cors", "type": "cors", "config": config])
            #expect(answer.status == 400)
            #expect(answer.json["error"]?["field"] == .string(field))
            #expect(answer.json["error"]?["message"]?.stringValue?.contains(says) == true, "\(answer.text)")
        }
        // `null` explicitly allowed is accepted.
        let explicit = try await httpRequest(
            port: gatehouse.ports.admin, .POST, "/policies",
            json: ["name": "cors", "type": "cors", "config": ["allow_origins": ["null"], "allow_null_origin": true]])
        #expect(explicit.status == 201)
        // Each refusal left the config as it was: only the accepted one made a version.
        #expect(explicit.header("gatehouse-config-version") == String(before + 1))
    }

    @Test func aQuotaSurvivesARestart() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let redis = try await TestRedis.start()
        let upstream = try await TestUpstream.start()
        let db = dir.file("gatehouse.db")
        do {
            let gatehouse = try await GatehouseProcess.serve(db: db, extraArguments: ["--redis-timeout", "10s"])
            defer { gatehouse.stop() }
            try await setUp(gatehouse, upstream: upstream)
            for policy: JSONValue in [
                ["name": "auth", "type": "key-auth"],
                ["name": "daily", "type": "quota", "config": ["limit": 2, "period": "day", "redis_url": .string(redis.url)]],
            ] {
                #expect(try await httpRequest(port: gatehouse.ports.admin, .POST, "/policies", json: policy).status == 201)
            }
            for remaining in ["1", "0"] {
                let answer = try await httpRequest(port: gatehouse.ports.proxy, .GET, "/api/recipes", headers: [("apikey", Self.key)])
                #expect(answer.status == 200)
                #expect(answer.header("x-quota-remaining") == remaining)
            }
        }
        let restarted = try await GatehouseProcess.serve(db: db, extraArguments: ["--redis-timeout", "10s"])
        defer { restarted.stop() }
        let refused = try await httpRequest(port: restarted.ports.proxy, .GET, "/api/recipes", headers: [("apikey", Self.key)])
        #expect(refused.status == 429)
        #expect(refused.json["error"]?["code"] == "quota_exceeded")
        #expect(refused.header("x-quota-remaining") == "0")
    }
}
