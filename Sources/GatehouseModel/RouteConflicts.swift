/// Two routes conflict when some request would match both with equal precedence: they share a
/// host (or both have none), a path (or both have none), a method (or both have none), and they
/// require the same headers. Such a pair makes routing depend on chance, so it is refused.
///
/// A route is also refused when it can never match: at equal precedence the route name decides,
/// so a route whose header rules name the same headers as another's, each with a subset of its
/// values, loses every request to it when that other route's name sorts first, for every host,
/// path and method it has.
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
        try checkShadowing(owners)
    }

    /// Routes of which every key is taken by another route's key: same host, path and method,
    /// header rules on the same names allowing at least the same values, and a name sorting first.
    private static func checkShadowing(_ owners: [Key: String]) throws(ConfigError) {
        struct Place: Hashable {
            var host: String?
            var path: String?
            var method: String?
        }
        var byPlace: [Place: [(key: Key, route: String)]] = [:]
        for (key, route) in owners where !key.headers.isEmpty {
            byPlace[Place(host: key.host, path: key.path, method: key.method), default: []].append((key, route))
        }
        var shadowers: [String: [String]] = [:]
        var unshadowed: Set<String> = []
        for entries in byPlace.values {
            for (key, route) in entries {
                let winner = entries.filter { other in
                    other.route < route && Set(other.key.headers.keys) == Set(key.headers.keys)
                        && key.headers.allSatisfy { name, values in Set(values).isSubset(of: other.key.headers[name] ?? []) }
                }.map(\.route).min()
                if let winner { shadowers[route, default: []].append(winner) } else { unshadowed.insert(route) }
            }
        }
        // A route with any key left unshadowed, or any key without header rules, is reachable.
        let headerless = Set(owners.filter { $0.key.headers.isEmpty }.values)
        for route in shadowers.keys.sorted() where !unshadowed.contains(route) && !headerless.contains(route) {
            let winners = Set(shadowers[route]!).sorted().map { "'\($0)'" }.joined(separator: ", ")
            throw ConfigError(
                code: .conflict,
                message:
                    "route '\(route)' can never match: \(winners) match every request it matches, at equal precedence, and win by name; make '\(route)' more specific or drop it",
                field: "headers"
            )
        }
    }

    private static func keys(of route: Route) -> [Key] {
        let hosts: [String?] = route.hosts.isEmpty ? [nil] : route.hosts
        // Parameter names do not change what a path matches: `/a/{x}` and `/a/{y}` collide.
        // A stored path is normalized: without a template segment its shape is its text.
        let paths: [String?] =
            route.paths.isEmpty ? [nil] : route.paths.map { $0.utf8.contains(UInt8(ascii: "{")) ? (try? RoutePath($0).shape) ?? $0 : $0 }
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
