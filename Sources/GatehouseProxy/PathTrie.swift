/// Route entries indexed by path segment, so matching costs one dictionary step per segment of
/// the request path, whatever the number of routes. Immutable once built.
struct PathTrie: Sendable {
    struct Entry: Sendable {
        let route: CompiledRoute
        /// Bytes of the matched prefix to remove for `strip_path` (0 for `/` and for no path).
        let prefixLength: Int
    }

    private final class Node: @unchecked Sendable {
        // Written only while the trie is built, before it is shared.
        var children: [String: Node] = [:]
        var entries: [Entry] = []
    }

    private let root = Node()
    /// Routes without paths: they match any path, after every prefix.
    private var anyPath: [Entry] = []

    init(_ routes: [(route: CompiledRoute, prefix: String?)]) {
        for (route, prefix) in routes {
            guard let prefix else {
                anyPath.append(Entry(route: route, prefixLength: 0))
                continue
            }
            var node = root
            for segment in prefix.split(separator: "/") {
                let key = String(segment)
                if let child = node.children[key] {
                    node = child
                } else {
                    let child = Node()
                    node.children[key] = child
                    node = child
                }
            }
            node.entries.append(Entry(route: route, prefixLength: prefix == "/" ? 0 : prefix.utf8.count))
        }
        Self.order(root)
        anyPath.sort(by: Self.precedes)
    }

    private static func order(_ node: Node) {
        node.entries.sort(by: precedes)
        for child in node.children.values { order(child) }
    }

    /// Among routes with the same prefix: those naming methods first, then more header rules,
    /// then by name.
    private static func precedes(_ a: Entry, _ b: Entry) -> Bool {
        if a.route.methods.isEmpty != b.route.methods.isEmpty { return !a.route.methods.isEmpty }
        if a.route.headers.count != b.route.headers.count { return a.route.headers.count > b.route.headers.count }
        return a.route.name < b.route.name
    }

    /// The first entry, longest prefix first, whose route accepts `accepts`.
    func match(path: String, _ accepts: (CompiledRoute) -> Bool) -> Entry? {
        // The nodes along the path, root first; at most one per segment.
        var trail: [Node] = [root]
        var node = root
        for segment in path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst() {
            guard let child = node.children[String(Substring(segment))] else { break }
            trail.append(child)
            node = child
        }
        for node in trail.reversed() {
            if let entry = node.entries.first(where: { accepts($0.route) }) { return entry }
        }
        return anyPath.first { accepts($0.route) }
    }
}
