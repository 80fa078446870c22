import GatehouseModel

/// Routes compiled for matching: bucketed by host (exact, then wildcard suffixes longest first,
/// then host-less), each bucket a `PathTrie`. Immutable and `Sendable`; built once per snapshot,
/// off the event loops, read by every event loop.
///
/// Precedence: exact host > wildcard host > no host; then longer path prefix > shorter > no path;
/// then routes that name methods > those that do not; then more header rules > fewer; then name.
public struct RouteTable: Sendable {
    private let exact: [String: PathTrie]
    private let wildcards: [(suffix: String, trie: PathTrie)]
    private let anyHost: PathTrie
    /// Every route in document order, for `explain`.
    let all: [CompiledRoute]
    public var routeCount: Int { all.count }

    init(routes: [CompiledRoute]) {
        var exact: [String: [(CompiledRoute, RoutePath?)]] = [:]
        var wildcards: [String: [(CompiledRoute, RoutePath?)]] = [:]
        var anyHost: [(CompiledRoute, RoutePath?)] = []
        for route in routes {
            let paths: [RoutePath?] = route.paths.isEmpty ? [nil] : route.paths
            let entries = paths.map { (route, $0) }
            if route.hosts.isEmpty { anyHost += entries }
            for host in route.hosts {
                if host.hasPrefix("*.") {
                    wildcards[String(host.dropFirst(1)), default: []] += entries
                } else {
                    exact[host, default: []] += entries
                }
            }
        }
        self.exact = exact.mapValues { PathTrie($0.map { (route: $0.0, path: $0.1) }) }
        self.wildcards = wildcards.map { ($0.key, PathTrie($0.value.map { (route: $0.0, path: $0.1) })) }
            .sorted { $0.suffix.utf8.count > $1.suffix.utf8.count }
        self.anyHost = PathTrie(anyHost.map { (route: $0.0, path: $0.1) })
        all = routes
    }

    /// The matching route, with the length of the path it matched and its captured parameters.
    /// - Parameters:
    ///   - host: lowercase host without port.
    ///   - path: normalized path, without query.
    func match(host: String, path: String, method: String, header: (String) -> [String]) -> PathTrie.Match? {
        let accepts = { (route: CompiledRoute) -> Bool in
            if !route.methods.isEmpty, !route.methods.contains(method) { return false }
            return route.headers.allSatisfy { name, allowed in header(name).contains(where: allowed.contains) }
        }
        if let trie = exact[host], let found = trie.match(path: path, accepts) { return found }
        for (suffix, trie) in wildcards where host.utf8.count > suffix.utf8.count && host.hasSuffix(suffix) {
            if let found = trie.match(path: path, accepts) { return found }
        }
        return anyHost.match(path: path, accepts)
    }
}
