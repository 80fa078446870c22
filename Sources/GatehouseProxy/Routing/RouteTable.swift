import GatehouseModel

/// Routes compiled for matching: bucketed by host (exact, then wildcard suffixes longest first,
/// then host-less), each bucket a `PathTrie`. Immutable and `Sendable`; made for each snapshot
/// off the event loops (from the last one's, for a change of a few routes), read by every event
/// loop.
///
/// Precedence: exact host > wildcard host > no host; then longer path prefix > shorter > no path;
/// then routes that name methods > those that do not; then more header rules > fewer; then name.
public struct RouteTable: Sendable {
    private let exact: [String: PathTrie]
    /// By suffix length, longest first.
    private let wildcards: [(suffix: String, trie: PathTrie)]
    private let anyHost: PathTrie
    /// Every route in document order, for `explain`.
    let all: [CompiledRoute]
    public var routeCount: Int { all.count }

    init(routes: [CompiledRoute]) {
        self = RouteTable(exact: [:], wildcards: [], anyHost: PathTrie([]), all: []).updating(to: routes, removing: [], adding: routes)
    }

    private init(exact: [String: PathTrie], wildcards: [(suffix: String, trie: PathTrie)], anyHost: PathTrie, all: [CompiledRoute]) {
        self.exact = exact
        self.wildcards = wildcards
        self.anyHost = anyHost
        self.all = all
    }

    /// The table of `routes`, made from this one less `removed` (route objects it holds) and with
    /// `added`: only the tries of the hosts they name change, and in them only the nodes on their
    /// paths (`PathTrie.updating`).
    func updating(to routes: [CompiledRoute], removing removed: [CompiledRoute], adding added: [CompiledRoute]) -> RouteTable {
        typealias Entries = [(route: CompiledRoute, path: RoutePath?)]
        enum Bucket: Hashable {
            case exact(String), wildcard(suffix: String), anyHost
        }
        func entries(_ routes: [CompiledRoute]) -> [Bucket: Entries] {
            var found: [Bucket: Entries] = [:]
            for route in routes {
                let paths: [RoutePath?] = route.paths.isEmpty ? [nil] : route.paths
                let buckets: [Bucket] =
                    route.hosts.isEmpty ? [.anyHost] : route.hosts.map { $0.hasPrefix("*.") ? .wildcard(suffix: String($0.dropFirst(1))) : .exact($0) }
                for bucket in buckets { found[bucket, default: []] += paths.map { (route, $0) } }
            }
            return found
        }
        let (out, into) = (entries(removed), entries(added))
        var exact = self.exact
        var wildcards = Dictionary(uniqueKeysWithValues: self.wildcards.map { ($0.suffix, $0.trie) })
        var anyHost = self.anyHost
        for bucket in Set(out.keys).union(into.keys) {
            let (removing, adding) = (out[bucket] ?? [], into[bucket] ?? [])
            switch bucket {
            case .exact(let host):
                let trie = (exact[host] ?? PathTrie([])).updating(removing: removing, adding: adding)
                exact[host] = trie.isEmpty ? nil : trie
            case .wildcard(let suffix):
                let trie = (wildcards[suffix] ?? PathTrie([])).updating(removing: removing, adding: adding)
                wildcards[suffix] = trie.isEmpty ? nil : trie
            case .anyHost:
                anyHost = anyHost.updating(removing: removing, adding: adding)
            }
        }
        return RouteTable(
            exact: exact, wildcards: wildcards.map { ($0.key, $0.value) }.sorted { $0.suffix.utf8.count > $1.suffix.utf8.count },
            anyHost: anyHost, all: routes)
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
