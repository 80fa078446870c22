import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

/// The config the observability tests send their mix of requests through, made with the admin
/// API: `alpha` and `beta` to a live upstream, `broken` to one whose two targets refuse every
/// connection (so each request tries both), `guarded` behind key-auth policy `auth` (consumer
/// `web-app` with `key`) and counted by consumer, `limited` behind rate-limit policy `limit` (one request in 31 days).
enum TrafficMix {
    static let key = "traffic-mix-key-0123456789"

    static func configure(admin: Int, upstream: TestUpstream) async throws {
        let entities: [(String, JSONValue)] = [
            ("/upstreams", ["name": "main", "targets": [["target": .string(upstream.target)]]]),
            // Nothing listens on ports 1 and 2.
            ("/upstreams", ["name": "dead", "targets": [["target": "127.0.0.1:1"], ["target": "127.0.0.1:2"]]]),
            ("/routes", ["name": "alpha", "paths": ["/alpha"], "upstream": "main"]),
            ("/routes", ["name": "beta", "paths": ["/beta"], "upstream": "main"]),
            ("/routes", ["name": "broken", "paths": ["/broken"], "upstream": "dead"]),
            ("/routes", ["name": "guarded", "paths": ["/guarded"], "upstream": "main", "consumer_metrics": true]),
            ("/routes", ["name": "limited", "paths": ["/limited"], "upstream": "main"]),
            ("/consumers", ["name": "web-app"]),
            ("/consumers/web-app/credentials", ["type": "key-auth", "key": .string(key)]),
            ("/policies", ["name": "auth", "type": "key-auth", "route": "guarded"]),
            ("/policies", ["name": "limit", "type": "rate-limit", "route": "limited", "config": ["limit": 1, "window": "31d"]]),
        ]
        for (path, body) in entities {
            let created = try await httpRequest(port: admin, .POST, path, json: body)
            #expect(created.status == 201, "\(path): \(created.text)")
        }
    }
}
