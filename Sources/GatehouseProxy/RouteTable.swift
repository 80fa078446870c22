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
    public let routeCount: Int

    init(routes: [CompiledRoute]) {
        var exact: [String: [(CompiledRoute, String?)]] = [:]
        var wildcards: [String: [(CompiledRoute, String?)]] = [:]
        var anyHost: [(CompiledRoute, String?)] = []
        for route in routes {
            let prefixes: [String?] = route.paths.isEmpty ? [nil] : route.paths
            let entries = prefixes.map { (route, $0) }
            if route.hosts.isEmpty { anyHost += entries }
            for host in route.hosts {
                if host.hasPrefix("*.") {
                    wildcards[String(host.dropFirst(1)), default: []] += entries
                } else {
                    exact[host, default: []] += entries
                }
            }
        }
        self.exact = exact.mapValues { PathTrie($0.map { (route: $0.0, prefix: $0.1) }) }
        self.wildcards = wildcards.map { ($0.key, PathTrie($0.value.map { (route: $0.0, prefix: $0.1) })) }
            .sorted { $0.suffix.utf8.count > $1.suffix.utf8.count }
        self.anyHost = PathTrie(anyHost.map { (route: $0.0, prefix: $0.1) })
        routeCount = routes.count
    }

    /// The matching route and the length of the path prefix it matched (for `strip_path`).
    /// - Parameters:
    ///   - host: lowercase host without port.
    ///   - path: normalized path, without query.
    public func match(host: String, path: String, method: String, header: (String) -> [String]) -> (CompiledRoute, matchedPrefixLength: Int)? {
        let accepts = { (route: CompiledRoute) -> Bool in
            if !route.methods.isEmpty, !route.methods.contains(method) { return false }
            return route.headers.allSatisfy { name, allowed in header(name).contains(where: allowed.contains) }
        }
        if let trie = exact[host], let entry = trie.match(path: path, accepts) { return (entry.route, entry.prefixLength) }
        for (suffix, trie) in wildcards where host.utf8.count > suffix.utf8.count && host.hasSuffix(suffix) {
            if let entry = trie.match(path: path, accepts) { return (entry.route, entry.prefixLength) }
        }
        return anyHost.match(path: path, accepts).map { ($0.route, $0.prefixLength) }
    }
}
