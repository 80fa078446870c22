import GatehouseModel

/// Routes compiled for matching: bucketed by host (exact, then wildcard suffixes longest first,
/// then host-less), each bucket ordered by precedence. Immutable and `Sendable`; built once per
/// snapshot, read by every event loop.
///
/// Precedence: exact host > wildcard host > no host; then longer path prefix > shorter > no path;
/// then routes that name methods > those that do not; then more header rules > fewer; then name.
public struct RouteTable: Sendable {
    struct Entry: Sendable {
        let route: CompiledRoute
        /// The path prefix as bytes, or nil for "any path".
        let prefix: [UInt8]?
    }

    private let exact: [String: [Entry]]
    private let wildcards: [(suffix: String, entries: [Entry])]
    private let anyHost: [Entry]
    public let routeCount: Int

    init(routes: [CompiledRoute]) {
        var exact: [String: [Entry]] = [:]
        var wildcards: [String: [Entry]] = [:]
        var anyHost: [Entry] = []
        for route in routes {
            let prefixes: [[UInt8]?] = route.paths.isEmpty ? [nil] : route.paths.map { Array($0.utf8) }
            let entries = prefixes.map { Entry(route: route, prefix: $0) }
            if route.hosts.isEmpty { anyHost += entries }
            for host in route.hosts {
                if host.hasPrefix("*.") {
                    wildcards[String(host.dropFirst(1)), default: []] += entries
                } else {
                    exact[host, default: []] += entries
                }
            }
        }
        self.exact = exact.mapValues(Self.ordered)
        self.wildcards = wildcards.map { ($0.key, Self.ordered($0.value)) }.sorted { $0.suffix.utf8.count > $1.suffix.utf8.count }
        self.anyHost = Self.ordered(anyHost)
        routeCount = routes.count
    }

    private static func ordered(_ entries: [Entry]) -> [Entry] {
        entries.sorted { a, b in
            let lengthA = a.prefix?.count ?? -1, lengthB = b.prefix?.count ?? -1
            if lengthA != lengthB { return lengthA > lengthB }
            if a.route.methods.isEmpty != b.route.methods.isEmpty { return !a.route.methods.isEmpty }
            if a.route.headers.count != b.route.headers.count { return a.route.headers.count > b.route.headers.count }
            return a.route.name < b.route.name
        }
    }

    /// The matching route and the path prefix it matched (for `strip_path`).
    /// - Parameters:
    ///   - host: lowercase host without port.
    ///   - path: normalized path, without query.
    public func match(host: String, path: String, method: String, header: (String) -> [String]) -> (CompiledRoute, matchedPrefixLength: Int)? {
        let pathBytes = Array(path.utf8)
        if let entries = exact[host], let found = Self.first(entries, pathBytes, method, header) { return found }
        for (suffix, entries) in wildcards where host.utf8.count > suffix.utf8.count && host.hasSuffix(suffix) {
            if let found = Self.first(entries, pathBytes, method, header) { return found }
        }
        return Self.first(anyHost, pathBytes, method, header)
    }

    private static func first(
        _ entries: [Entry], _ path: [UInt8], _ method: String, _ header: (String) -> [String]
    ) -> (CompiledRoute, Int)? {
        for entry in entries {
            let length: Int
            if let prefix = entry.prefix {
                guard Self.hasSegmentPrefix(path, prefix) else { continue }
                length = prefix == [UInt8(ascii: "/")] ? 0 : prefix.count
            } else {
                length = 0
            }
            let route = entry.route
            if !route.methods.isEmpty, !route.methods.contains(method) { continue }
            if !route.headers.allSatisfy({ name, allowed in header(name).contains(where: allowed.contains) }) { continue }
            return (route, length)
        }
        return nil
    }

    /// `/api` matches `/api`, `/api/` and `/api/x`, not `/apix`; `/` matches everything.
    static func hasSegmentPrefix(_ path: [UInt8], _ prefix: [UInt8]) -> Bool {
        guard path.count >= prefix.count, path.starts(with: prefix) else { return false }
        return path.count == prefix.count || prefix.last == UInt8(ascii: "/") || path[prefix.count] == UInt8(ascii: "/")
    }
}
