import GatehouseModel

/// The path a request is forwarded with: as received, less the matched part with
/// `strip_path`, or the route's `upstream_path` with its parameters filled in from the request's
/// captures, followed by what the route's path did not match.
enum UpstreamPath {
    static func forwarded(_ path: String, route: CompiledRoute, match: PathTrie.Match) -> String {
        if let template = route.upstreamPath {
            var base = ""
            for segment in template.segments {
                base += "/"
                switch segment {
                case .literal(let text): base += text
                case .parameter(let name): base += match.captures.first { $0.name == name }.map { String($0.value) } ?? ""
                }
            }
            let rest = remainder(path, after: match.matchedLength)
            if base.isEmpty { return rest.isEmpty ? "/" : rest }
            return base + rest
        }
        guard route.stripPath, match.matchedLength > 0 else { return path }
        let rest = remainder(path, after: match.matchedLength)
        return rest.isEmpty ? "/" : rest
    }

    /// What follows the first `length` bytes of `path`, starting with `/` (or empty).
    private static func remainder(_ path: String, after length: Int) -> String {
        let rest = path.utf8.dropFirst(length)
        if rest.isEmpty || rest.elementsEqual("/".utf8) { return "" }
        return rest.first == UInt8(ascii: "/") ? String(rest)! : "/" + String(rest)!
    }
}
