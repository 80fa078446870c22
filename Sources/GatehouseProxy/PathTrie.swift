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
        let segments: [Substring] = path == "/" ? [] : Array(path.dropFirst().split(separator: "/", omittingEmptySubsequences: false))
        if let (entry, depth) = Self.search(root, segments, 0, accepts) {
            let matched = segments.prefix(depth).reduce(0) { $0 + 1 + $1.utf8.count }
            return Match(entry: entry, matchedLength: matched, captures: entry.parameters.map { ($0.name, segments[$0.position]) })
        }
        return anyPath.first(where: { accepts($0.route) }).map { Match(entry: $0, matchedLength: 0, captures: []) }
    }

    private static func search(_ node: Node, _ segments: [Substring], _ index: Int, _ accepts: (CompiledRoute) -> Bool) -> (Entry, Int)? {
        if index < segments.count {
            let segment = segments[index]
            let literal = node.children[String(segment)].flatMap { search($0, segments, index + 1, accepts) }
            let parameter = segment.isEmpty ? nil : node.parameter.flatMap { search($0, segments, index + 1, accepts) }
            // The longer match wins; at equal length, the literal one.
            switch (literal, parameter) {
            case (let a?, let b?): return a.1 >= b.1 ? a : b
            case (let a?, nil): return a
            case (nil, let b?): return b
            case (nil, nil): break
            }
        } else if let entry = node.exactEntries.first(where: { accepts($0.route) }) {
            return (entry, index)
        }
        if let entry = node.prefixEntries.first(where: { accepts($0.route) }) { return (entry, index) }
        return nil
    }
}
