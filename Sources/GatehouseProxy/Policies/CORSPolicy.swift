import Foundation
import GatehouseModel

/// A `cors` policy compiled for answering browsers: which origins it allows and the exact
/// headers of its answers. Immutable; one per policy per snapshot.
///
/// The same functions answer real requests and `explain`, so what `explain` shows is what a
/// browser gets.
public final class CORSPolicy: Sendable {
    public let name: String
    private let anyOrigin: Bool
    private let exactOrigins: Set<String>
    /// `https://*.example.com:8443` as ("https://", ".example.com:8443").
    private let patterns: [(scheme: String, suffix: String)]
    let allowMethods: [String]
    let allowHeaders: [String]
    /// The two lists as a preflight answer sends them: joined once, not per preflight.
    private let allowMethodsText: String
    private let allowHeadersText: String
    private let exposeHeaders: String
    private let credentials: Bool
    var allowsCredentials: Bool { credentials }
    private let maxAge: String

    /// Whether the answer depends on the request's `Origin`, so caches must keep one per origin.
    var variesByOrigin: Bool { !anyOrigin }

    init(name: String, config: JSONValue) {
        self.name = name
        let origins = config["allow_origins"]?.arrayValue?.compactMap(\.stringValue) ?? []
        anyOrigin = origins.contains("*")
        exactOrigins = Set(origins.filter { !$0.contains("://*.") })
        patterns = origins.compactMap { origin in
            guard let star = origin.range(of: "://*.") else { return nil }
            return (String(origin[..<star.lowerBound]) + "://", "." + origin[star.upperBound...])
        }
        allowMethods = config["allow_methods"]?.arrayValue?.compactMap(\.stringValue) ?? []
        allowHeaders = config["allow_headers"]?.arrayValue?.compactMap(\.stringValue) ?? []
        allowMethodsText = allowMethods.joined(separator: ", ")
        allowHeadersText = allowHeaders.joined(separator: ", ")
        exposeHeaders = (config["expose_headers"]?.arrayValue?.compactMap(\.stringValue) ?? []).joined(separator: ", ")
        credentials = config["allow_credentials"]?.boolValue ?? false
        maxAge = String(config["max_age"]?.intValue ?? 600)
    }

    /// Whether `origin` (as a browser sends it) is allowed.
    public func allows(_ origin: String) -> Bool {
        if anyOrigin || exactOrigins.contains(origin) { return true }
        // Browsers send origins in lowercase; anything else is compared as they would serialize it.
        let origin = origin.utf8.contains(where: { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) ? origin.lowercased() : origin
        if exactOrigins.contains(origin) { return true }
        for (scheme, suffix) in patterns where origin.hasPrefix(scheme) && origin.hasSuffix(suffix) {
            // The part the `*` stands for: one or more whole DNS labels, nothing else.
            let labels = origin.utf8.dropFirst(scheme.utf8.count).dropLast(suffix.utf8.count)
            if !labels.isEmpty, labels.first != UInt8(ascii: "."), labels.allSatisfy(Self.isLabelByte) { return true }
        }
        return false
    }

    private static func isLabelByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."): true
        default: false
        }
    }

    /// The headers added to the answer of a request that is not a preflight (including the
    /// gateway's own 401s and 429s, so the browser lets the page read them).
    public func actualHeaders(origin: String?) -> [(String, String)] {
        var headers: [(String, String)] = []
        if variesByOrigin { headers.append(("vary", "Origin")) }
        guard let origin, allows(origin) else { return headers }
        headers.append(allowOrigin(origin))
        if credentials { headers.append(("access-control-allow-credentials", "true")) }
        if !exposeHeaders.isEmpty { headers.append(("access-control-expose-headers", exposeHeaders)) }
        return headers
    }

    /// The headers of the gateway's `204` answer to a preflight. A disallowed origin gets no
    /// CORS headers, so the browser stops there.
    public func preflightHeaders(origin: String) -> [(String, String)] {
        var headers: [(String, String)] = [
            (
                "vary",
                variesByOrigin
                    ? "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
                    : "Access-Control-Request-Method, Access-Control-Request-Headers"
            )
        ]
        guard allows(origin) else { return headers }
        headers.append(allowOrigin(origin))
        if credentials { headers.append(("access-control-allow-credentials", "true")) }
        headers.append(("access-control-allow-methods", allowMethodsText))
        if !allowHeaders.isEmpty { headers.append(("access-control-allow-headers", allowHeadersText)) }
        headers.append(("access-control-max-age", maxAge))
        return headers
    }

    private func allowOrigin(_ origin: String) -> (String, String) {
        ("access-control-allow-origin", anyOrigin && !credentials ? "*" : origin)
    }

    /// Why a browser would block a cross-origin request with these properties; empty when it
    /// would let it through. Follows the Fetch standard's CORS checks.
    public func browserProblems(origin: String, method: String, headers: [String], preflight: Bool) -> [String] {
        guard allows(origin) else { return ["origin \(origin) is not in allow_origins, so no Access-Control-Allow-Origin is sent"] }
        guard preflight else { return [] }
        var problems: [String] = []
        let wildcard = !credentials
        if !Self.safelistedMethods.contains(method), !allowMethods.contains(method), !(wildcard && allowMethods.contains("*")) {
            problems.append("method \(method) is not in allow_methods (\(allowMethodsText))")
        }
        for header in headers.map({ $0.lowercased() }) where !allowHeaders.contains(header) && !(wildcard && allowHeaders.contains("*")) {
            problems.append(
                "request header \(header) is not in allow_headers (\(allowHeaders.isEmpty ? "empty" : allowHeadersText))")
        }
        return problems
    }

    /// Whether a browser sends a preflight before this request (Fetch: a non-safelisted method or
    /// request header).
    public static func needsPreflight(method: String, headers: [(name: String, value: String)]) -> Bool {
        if !safelistedMethods.contains(method) { return true }
        return headers.contains { name, value in
            switch name.lowercased() {
            case "accept", "accept-language", "content-language": false
            case "content-type":
                !["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"].contains(
                    value.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? "")
            default: true
            }
        }
    }

    static let safelistedMethods: Set<String> = ["GET", "HEAD", "POST"]
}
