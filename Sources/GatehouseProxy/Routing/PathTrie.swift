import GatehouseModel

/// Route entries indexed by path segment, so matching costs about one dictionary step per
/// segment of the request path, whatever the number of routes. Template segments (`{id}`) are a
/// node's parameter child. Immutable once built.
///
/// Precedence within a trie: the match covering more segments wins; at equal length a literal
/// segment before a parameter, and an exact path (`=/x`) before a prefix; then `precedes`.
struct PathTrie: Sendable {
    struct Entry: Sendable {
        let route: CompiledRoute
        /// Parameter names by segment position, for captures.
        let parameters: [(position: Int, name: String)]
    }

    /// A route found for a request, with what `strip_path` and `upstream_path` need.
    struct Match {
        let entry: Entry
        /// Bytes of the request path the route's path matched (0 for `/` and for no path).
        let matchedLength: Int
        let captures: [(name: String, value: Substring)]
    }

    private final class Node: @unchecked Sendable {
        // Written only while the trie is built, before it is shared.
        var children: [String: Node] = [:]
        var parameter: Node?
        var prefixEntries: [Entry] = []
        var exactEntries: [Entry] = []
    }

    private let root = Node()
    /// Routes without paths: they match any path, after every path rule.
    private var anyPath: [Entry] = []

    init(_ routes: [(route: CompiledRoute, path: RoutePath?)]) {
        for (route, path) in routes {
            guard let path else {
                anyPath.append(Entry(route: route, parameters: []))
                continue
            }
            var node = root
            var parameters: [(Int, String)] = []
            for (position, segment) in path.segments.enumerated() {
                switch segment {
                case .literal(let text):
                    if let child = node.children[text] {
                        node = child
                    } else {
                        let child = Node()
                        node.children[text] = child
                        node = child
                    }
                case .parameter(let name):
                    parameters.append((position, name))
                    if node.parameter == nil { node.parameter = Node() }
                    node = node.parameter!
                }
            }
            let entry = Entry(route: route, parameters: parameters)
            if path.exact { node.exactEntries.append(entry) } else { node.prefixEntries.append(entry) }
        }
        Self.order(root)
        anyPath.sort(by: Self.precedes)
    }

    private static func order(_ node: Node) {
        node.prefixEntries.sort(by: precedes)
        node.exactEntries.sort(by: precedes)
        for child in node.children.values { order(child) }
        if let parameter = node.parameter { order(parameter) }
    }

    /// Among routes with the same path: those naming methods first, then more header rules,
    /// then by name.
    private static func precedes(_ a: Entry, _ b: Entry) -> Bool {
        if a.route.methods.isEmpty != b.route.methods.isEmpty { return !a.route.methods.isEmpty }
        if a.route.headers.count != b.route.headers.count { return a.route.headers.count > b.route.headers.count }
        return a.route.name < b.route.name
    }

    func match(path: String, _ accepts: (CompiledRoute) -> Bool) -> Match? {
        // Segments are read off the path as the search descends, not split into an array first:
        // most matches need none of them again (only templates capture).
        let rest = path == "/" ? nil : path.dropFirst()
        if let (entry, stop) = Self.search(root, rest, accepts) {
            let matched = stop.map { path.utf8.distance(from: path.utf8.startIndex, to: $0.startIndex) - 1 } ?? path.utf8.count
            guard !entry.parameters.isEmpty else { return Match(entry: entry, matchedLength: matched, captures: []) }
            let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
            return Match(entry: entry, matchedLength: matched, captures: entry.parameters.map { ($0.name, segments[$0.position]) })
        }
        return anyPath.first(where: { accepts($0.route) }).map { Match(entry: $0, matchedLength: 0, captures: []) }
    }

    /// - Parameter rest: the path from the segment at this depth on (without its leading `/`),
    ///   or nil once every segment was read.
    /// - Returns: the entry and what of the path it left unmatched (nil: none).
    private static func search(_ node: Node, _ rest: Substring?, _ accepts: (CompiledRoute) -> Bool) -> (Entry, Substring?)? {
        if let rest {
            let slash = rest.utf8.firstIndex(of: UInt8(ascii: "/"))
            let segment = rest[..<(slash ?? rest.endIndex)]
            let next = slash.map { rest[rest.utf8.index(after: $0)...] }
            let literal = node.children[String(segment)].flatMap { search($0, next, accepts) }
            let parameter = segment.isEmpty ? nil : node.parameter.flatMap { search($0, next, accepts) }
            // The longer match wins; at equal length, the literal one.
            switch (literal, parameter) {
            case (let a?, let b?): return remaining(a.1) <= remaining(b.1) ? a : b
            case (let a?, nil): return a
            case (nil, let b?): return b
            case (nil, nil): break
            }
        } else if let entry = node.exactEntries.first(where: { accepts($0.route) }) {
            return (entry, nil)
        }
        if let entry = node.prefixEntries.first(where: { accepts($0.route) }) { return (entry, rest) }
        return nil
    }

    /// How much of the path a match left: less is a longer match.
    private static func remaining(_ rest: Substring?) -> Int { rest.map { $0.utf8.count + 1 } ?? 0 }
}
