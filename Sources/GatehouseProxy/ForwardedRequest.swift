import NIOCore
import NIOHTTP1

/// Header rules for what crosses the proxy in each direction: hop-by-hop headers (and those a
/// `Connection` header names) never cross; `X-Forwarded-*` are set by the gateway.
enum ForwardedRequest {
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "transfer-encoding", "upgrade",
    ]

    /// Client-supplied forwarding headers are replaced, not trusted.
    static let replacedForwarding: Set<String> = [
        "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "forwarded", "x-real-ip",
    ]

    /// Names listed in `Connection` headers, lowercased.
    static func connectionNamed(_ headers: HTTPHeaders) -> Set<String> {
        var names: Set<String> = []
        for value in headers[canonicalForm: "connection"] {
            names.insert(value.lowercased().trimmingASCIISpaces())
        }
        return names
    }

    /// Copies `headers` without hop-by-hop ones and without those in `dropping`.
    static func endToEnd(_ headers: HTTPHeaders, dropping: Set<String> = []) -> HTTPHeaders {
        let named = connectionNamed(headers)
        var out = HTTPHeaders()
        out.reserveCapacity(headers.count + 6)
        for (name, value) in headers {
            let lower = name.lowercased()
            if hopByHop.contains(lower) || named.contains(lower) || dropping.contains(lower) { continue }
            out.add(name: name, value: value)
        }
        return out
    }

    /// Removes `.` and `..` segments (RFC 3986 §5.2.4). Returns nil when the path is not
    /// origin-form (does not start with `/`).
    static func normalizedPath(_ path: Substring) -> String? {
        guard path.first == "/" else { return nil }
        if !path.contains(".") { return String(path) }
        var output: [Substring] = []
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (index, segment) in segments.enumerated() {
            let last = index == segments.count - 1
            switch segment {
            case ".":
                if last { output.append("") }
            case "..":
                if !output.isEmpty { output.removeLast() }
                if last { output.append("") }
            default:
                output.append(segment)
            }
        }
        return "/" + output.joined(separator: "/")
    }
}

extension Substring {
    func trimmingASCIISpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

extension String {
    func trimmingASCIISpaces() -> String { self[...].trimmingASCIISpaces() }
}
