import GatehouseModel
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

    /// Copies `headers` without hop-by-hop ones, those in `dropping`, and names containing `_`
    /// (which some servers read as `-`, letting a client smuggle a header past a check).
    static func endToEnd(_ headers: HTTPHeaders, dropping: Set<String> = []) -> HTTPHeaders {
        let named = connectionNamed(headers)
        var out = HTTPHeaders()
        out.reserveCapacity(headers.count + 6)
        for (name, value) in headers {
            let lower = name.lowercased()
            if hopByHop.contains(lower) || named.contains(lower) || dropping.contains(lower) || lower.utf8.contains(UInt8(ascii: "_")) {
                continue
            }
            out.add(name: name, value: value)
        }
        return out
    }

    /// Sets `X-Forwarded-For/Proto/Host/Port`. From a trusted proxy, the client address is
    /// appended to its `X-Forwarded-For` and its other forwarding headers are kept.
    static func addForwarding(to headers: inout HTTPHeaders, clientIP: String, host: String, port: Int, trusted: Bool) {
        if trusted, let chain = headers.first(name: "x-forwarded-for") {
            headers.replaceOrAdd(name: "x-forwarded-for", value: "\(chain), \(clientIP)")
        } else {
            headers.replaceOrAdd(name: "x-forwarded-for", value: clientIP)
        }
        if !(trusted && headers.contains(name: "x-forwarded-proto")) { headers.replaceOrAdd(name: "x-forwarded-proto", value: "http") }
        if !(trusted && headers.contains(name: "x-forwarded-host")), !host.isEmpty { headers.replaceOrAdd(name: "x-forwarded-host", value: host) }
        if !(trusted && headers.contains(name: "x-forwarded-port")) { headers.replaceOrAdd(name: "x-forwarded-port", value: String(port)) }
    }

    /// Appends this hop to `Via` (RFC 9110 §7.6.3).
    static func appendVia(to headers: inout HTTPHeaders, version: HTTPVersion) {
        let hop = "\(version.major).\(version.minor) gatehouse"
        if let via = headers.first(name: "via") {
            headers.replaceOrAdd(name: "via", value: "\(via), \(hop)")
        } else {
            headers.add(name: "via", value: hop)
        }
    }

    /// Removes `.` and `..` segments (RFC 3986 §5.2.4) from a path that starts with `/`.
    static func removeDotSegments(_ path: String) -> String {
        if !path.contains(".") { return path }
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
