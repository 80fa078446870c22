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
        // Written only while a trie is built or updated, before it is shared; an update copies
        // the nodes it changes and shares the rest with the trie it started from.
        var children: [String: Node] = [:]
        var parameter: Node?
        var prefixEntries: [Entry] = []
        var exactEntries: [Entry] = []

        var isEmpty: Bool { children.isEmpty && parameter == nil && prefixEntries.isEmpty && exactEntries.isEmpty }

        func copy() -> Node {
            let copy = Node()
            (copy.children, copy.parameter, copy.prefixEntries, copy.exactEntries) = (children, parameter, prefixEntries, exactEntries)
            return copy
        }
    }

    private let root: Node
    /// Routes without paths: they match any path, after every path rule.
    private let anyPath: [Entry]

    var isEmpty: Bool { root.isEmpty && anyPath.isEmpty }

    init(_ routes: [(route: CompiledRoute, path: RoutePath?)]) {
        self = PathTrie(root: Node(), anyPath: []).updating(removing: [], adding: routes)
    }

    private init(root: Node, anyPath: [Entry]) {
        self.root = root
        self.anyPath = anyPath
    }

    /// This trie less the entries of `removed` (the same route objects it holds) and with those
    /// of `added`. Only the nodes on their paths are new; every other node is shared with this
    /// trie, so a one-route change costs the route's path, not the table.
    func updating(
        removing removed: [(route: CompiledRoute, path: RoutePath?)], adding added: [(route: CompiledRoute, path: RoutePath?)]
    ) -> PathTrie {
        var update = Update()
        let root = update.own(self.root)
        var anyPath = self.anyPath
        for (route, path) in removed {
            guard let path else {
                anyPath.removeAll { $0.route === route }
                continue
            }
            update.remove(route, path, from: root)
        }
        for (route, path) in added {
            guard let path else {
                anyPath.append(Entry(route: route, parameters: []))
                continue
            }
            update.insert(route, path, into: root)
        }
        for node in update.added {
            node.prefixEntries.sort(by: Self.precedes)
            node.exactEntries.sort(by: Self.precedes)
        }
        if added.contains(where: { $0.path == nil }) { anyPath.sort(by: Self.precedes) }
        return PathTrie(root: root, anyPath: anyPath)
    }

    /// One update's new nodes: a node of the trie being updated is copied the first time the
    /// update changes it, and the copy is changed in place after that.
    private struct Update {
        private var fresh: Set<ObjectIdentifier> = []
        /// Nodes given entries, to be put in order once every change is in.
        private var given: [ObjectIdentifier: Node] = [:]
        var added: Dictionary<ObjectIdentifier, Node>.Values { given.values }

        mutating func own(_ node: Node) -> Node {
            if fresh.contains(ObjectIdentifier(node)) { return node }
            return made(node.copy())
        }

        private mutating func made(_ node: Node) -> Node {
            fresh.insert(ObjectIdentifier(node))
            return node
        }

        mutating func insert(_ route: CompiledRoute, _ path: RoutePath, into root: Node) {
            var node = root
            var parameters: [(Int, String)] = []
            for (position, segment) in path.segments.enumerated() {
                switch segment {
                case .literal(let text):
                    let child = node.children[text].map { own($0) } ?? made(Node())
                    node.children[text] = child
                    node = child
                case .parameter(let name):
                    parameters.append((position, name))
                    let child = node.parameter.map { own($0) } ?? made(Node())
                    node.parameter = child
                    node = child
                }
            }
            let entry = Entry(route: route, parameters: parameters)
            if path.exact { node.exactEntries.append(entry) } else { node.prefixEntries.append(entry) }
            given[ObjectIdentifier(node)] = node
        }

        /// Takes the route's entry out of the node at `path` and drops the nodes left empty.
        mutating func remove(_ route: CompiledRoute, _ path: RoutePath, from root: Node) {
            var trail: [(parent: Node, segment: RoutePath.Segment)] = []
            var node = root
            for segment in path.segments {
                let next: Node
                switch segment {
                case .literal(let text):
                    guard let child = node.children[text] else { return }
                    next = own(child)
                    node.children[text] = next
                case .parameter:
                    guard let child = node.parameter else { return }
                    next = own(child)
                    node.parameter = next
                }
                trail.append((node, segment))
                node = next
            }
            if path.exact { node.exactEntries.removeAll { $0.route === route } } else { node.prefixEntries.removeAll { $0.route === route } }
            while node.isEmpty, let (parent, segment) = trail.popLast() {
                switch segment {
                case .literal(let text): parent.children[text] = nil
                case .parameter: parent.parameter = nil
                }
                node = parent
            }
        }
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
