/// One entry of a route's `paths`, parsed: a prefix (`/api`), an exact path (`=/healthz`), or
/// either with template segments (`/recipes/{id}`) that match any one segment and capture it.
public struct RoutePath: Sendable, Hashable {
    public enum Segment: Sendable, Hashable {
        case literal(String)
        case parameter(String)
    }

    public let segments: [Segment]
    /// Matches only the path itself, not the paths below it.
    public let exact: Bool

    /// Parses and checks a path as written in config. Throws a message without a field.
    public init(_ text: String) throws(ConfigError) {
        exact = text.hasPrefix("=")
        let path = exact ? String(text.dropFirst()) : text
        guard path.hasPrefix("/") else { throw .invalid("'\(text)' must start with / (or =/ for an exact path)") }
        guard path.utf8.count <= 1024 else { throw .invalid("is longer than 1024 bytes") }
        guard path.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") }) else {
            throw .invalid("'\(text)' may hold only visible ASCII characters, without ? or #")
        }
        var trimmed = Substring(path)
        // A trailing slash adds nothing to a segment-boundary prefix, so `/api/` is kept as `/api`.
        if trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        var segments: [Segment] = []
        var names: Set<String> = []
        for raw in trimmed.split(separator: "/", omittingEmptySubsequences: false).dropFirst() where !(raw.isEmpty && trimmed == "/") {
            guard !raw.isEmpty, raw != ".", raw != ".." else {
                throw .invalid("'\(text)' must be normalized: no empty, . or .. segments")
            }
            if raw.hasPrefix("{") && raw.hasSuffix("}") {
                let name = String(raw.dropFirst().dropLast())
                guard Self.isParameterName(name) else {
                    throw .invalid("'\(text)': '{\(name)}' is not a parameter; use letters, digits and _ starting with a letter")
                }
                guard names.insert(name).inserted else { throw .invalid("'\(text)' names the parameter '\(name)' twice") }
                segments.append(.parameter(name))
            } else {
                guard !raw.contains("{"), !raw.contains("}") else {
                    throw .invalid("'\(text)': a template parameter must be a whole segment, such as /recipes/{id}")
                }
                segments.append(.literal(String(raw)))
            }
        }
        self.segments = segments
    }

    /// The normalized text, as stored and shown.
    public var text: String {
        let path =
            "/"
            + segments.map { segment in
                switch segment {
                case .literal(let text): text
                case .parameter(let name): "{\(name)}"
                }
            }.joined(separator: "/")
        return exact ? "=" + path : path
    }

    /// The text with parameter names erased: two paths with equal shapes match the same requests.
    public var shape: String {
        (exact ? "=" : "") + "/"
            + segments.map { segment in
                if case .literal(let text) = segment { return text }
                return "{}"
            }.joined(separator: "/")
    }

    public var parameterNames: [String] {
        segments.compactMap { segment in
            if case .parameter(let name) = segment { return name }
            return nil
        }
    }

    static func isParameterName(_ name: String) -> Bool {
        guard let first = name.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first | 0x20), name.utf8.count <= 64 else { return false }
        return name.utf8.allSatisfy {
            ($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "_")
        }
    }
}
