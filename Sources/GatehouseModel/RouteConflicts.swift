/// Two routes conflict when some request would match both with equal precedence: they share a
/// host (or both have none), a path (or both have none), a method (or both have none), and they
/// require the same headers. Such a pair makes routing depend on chance, so it is refused.
enum RouteConflicts {
    private struct Key: Hashable {
        var host: String?
        var path: String?
        var method: String?
        var headers: [String: [String]]
    }

    static func check(_ routes: [Route]) throws(ConfigError) {
        var owners: [Key: String] = [:]
        for route in routes {
            for key in keys(of: route) {
                if let other = owners.updateValue(route.name, forKey: key), other != route.name {
                    let (first, second) = other < route.name ? (other, route.name) : (route.name, other)
                    throw ConfigError(
                        code: .conflict,
                        message: "routes '\(first)' and '\(second)' match the same requests (\(describe(key))); make one more specific",
                        field: "paths"
                    )
                }
            }
        }
    }

    private static func keys(of route: Route) -> [Key] {
        let hosts: [String?] = route.hosts.isEmpty ? [nil] : route.hosts
        // Parameter names do not change what a path matches: `/a/{x}` and `/a/{y}` collide.
        let paths: [String?] = route.paths.isEmpty ? [nil] : route.paths.map { (try? RoutePath($0).shape) ?? $0 }
        let methods: [String?] = route.methods.isEmpty ? [nil] : route.methods
        var keys: [Key] = []
        for host in hosts {
            for path in paths {
                for method in methods {
                    keys.append(Key(host: host, path: path, method: method, headers: route.headers))
                }
            }
        }
        return keys
    }

    private static func describe(_ key: Key) -> String {
        var parts = ["host \(key.host ?? "any")", "path \(key.path ?? "any")", "method \(key.method ?? "any")"]
        if !key.headers.isEmpty { parts.append("headers \(key.headers.keys.sorted().joined(separator: ", "))") }
        return parts.joined(separator: ", ")
    }
}
