import GatehouseHTTP1
import GatehouseModel
import NIOCore
import NIOHTTP1

/// Header rules for what crosses the proxy in each direction: hop-by-hop headers (and those a
/// `Connection` header names) never cross; `X-Forwarded-*` are set by the gateway.
enum ForwardedRequest {
    static let hopByHop = FieldNameSet([
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "transfer-encoding", "upgrade",
    ])

    /// Client-supplied forwarding headers are replaced, not trusted.
    static let replacedForwarding: [String] = [
        "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "forwarded", "x-real-ip",
    ]

    /// `close` and `keep-alive` are hop-by-hop anyway; `content-length` frames the body that
    /// follows the head, and without it the upstream would read that body as the next request
    /// (`Connection: Content-Length` is a smuggling trick): it is never dropped for being named.
    private static let connectionOptions = FieldNameSet(["close", "keep-alive", "content-length"])

    /// Names listed in `Connection` headers, lowercased, but for `connectionOptions`: the usual
    /// `Connection` header costs no allocation.
    static func connectionNamed(_ headers: RequestFields) -> [String] {
        var names: [String] = []
        for field in headers where field.hasName("connection") {
            for token in field.value.utf8.split(separator: UInt8(ascii: ",")) {
                var token = token[...]
                while let first = token.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { token = token.dropFirst() }
                while let last = token.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { token = token.dropLast() }
                if token.isEmpty || connectionOptions.contains(token) { continue }
                names.append(String(decoding: token, as: UTF8.self).lowercased())
            }
        }
        return names
    }

    /// Fields the gateway always writes itself, combining the client's value with its own:
    /// never copied as they are.
    static let rewritten: [String] = ["x-forwarded-for", "via"]

    /// Adds `X-Forwarded-For/Proto/Host/Port`. From a trusted proxy, the client address is
    /// appended to its `X-Forwarded-For` and its other forwarding fields (copied) are kept.
    static func addForwarding(
        to head: inout UpstreamRequestHead, from client: RequestFields, clientIP: String, host: String, port: String, secure: Bool, trusted: Bool
    ) {
        if trusted, let chain = client.first(name: "x-forwarded-for") {
            head.add("x-forwarded-for", "\(chain), \(clientIP)")
        } else {
            head.add("x-forwarded-for", clientIP)
        }
        if !(trusted && client.contains(name: "x-forwarded-proto")) { head.add("x-forwarded-proto", secure ? "https" : "http") }
        if !(trusted && client.contains(name: "x-forwarded-host")), !host.isEmpty { head.add("x-forwarded-host", host) }
        if !(trusted && client.contains(name: "x-forwarded-port")) { head.add("x-forwarded-port", port) }
    }

    /// Appends this hop to the client's `Via` (RFC 9110 §7.6.3).
    static func addVia(to head: inout UpstreamRequestHead, from client: RequestFields, version: HTTPVersion) {
        let hop = version.minor == 0 ? "1.0 gatehouse" : "1.1 gatehouse"
        if let via = client.first(name: "via") {
            head.add("via", "\(via), \(hop)")
        } else {
            head.add("via", hop)
        }
    }

    /// Removes `.` and `..` segments (RFC 3986 §5.2.4) from a path that starts with `/`.
    static func removeDotSegments(_ path: String) -> String {
        if !path.utf8.contains(UInt8(ascii: ".")) { return path }
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
