import Foundation
import GatehouseModel

/// A server URL taken apart: where an upstream is (`scheme`, `host`, `port`; nil host for a
/// relative URL) and the base path its operations live under.
struct ServerAddress: Sendable, Hashable {
    var scheme: String
    var host: String?
    var port: Int
    /// Without a trailing slash; empty for none.
    var basePath: String

    var target: String? { host.map { "\($0):\(port)" } }

    /// Parses `url` once its `{variables}` are filled from `variables` (then their defaults);
    /// the failure says why.
    static func parse(_ url: String, variables: [String: String]) -> Result<ServerAddress, Refusal> {
        var filled = ""
        var rest = Substring(url)
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else { return .failure("'\(url)' has an unclosed {") }
            let name = String(rest[rest.index(after: open)..<close])
            guard let value = variables[name] else {
                return .failure("'\(url)' uses {\(name)}, which has no default and no --server-var \(name)=…")
            }
            filled += rest[..<open] + value
            rest = rest[rest.index(after: close)...]
        }
        filled += rest
        if filled.contains("?") || filled.contains("#") {
            return .failure("'\(filled)' has a query or fragment; a server URL is scheme://host[:port][/path]")
        }
        guard let schemeEnd = filled.range(of: "://") else {
            // Relative: the path alone (`/api/v3`, `v3`, or empty).
            let path = filled.hasPrefix("/") ? filled : "/" + filled
            return .success(ServerAddress(scheme: "http", host: nil, port: 80, basePath: trimmed(path)))
        }
        let scheme = filled[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return .failure("'\(filled)' must use http or https") }
        let afterScheme = filled[schemeEnd.upperBound...]
        let authority = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let path = afterScheme.dropFirst(authority.count).prefix { $0 != "?" && $0 != "#" }
        var host = authority.lowercased()
        var port = scheme == "https" ? 443 : 80
        if host.contains("@") { return .failure("'\(filled)' has user info; put credentials in a policy, not in the server URL") }
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return .failure("'\(filled)' has an unclosed [") }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let number = Int(after.dropFirst()), (1...65535).contains(number) else { return .failure("'\(filled)' has an invalid port") }
                port = number
            }
            host = String(host[...close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let number = Int(host[host.index(after: colon)...]), (1...65535).contains(number) else {
                return .failure("'\(filled)' has an invalid port")
            }
            port = number
            host = String(host[..<colon])
        }
        if host.hasSuffix(".") { host.removeLast() }
        guard !host.isEmpty else { return .failure("'\(filled)' has no host") }
        return .success(ServerAddress(scheme: scheme, host: host, port: port, basePath: trimmed(path.isEmpty ? "/" : String(path))))
    }

    private static func trimmed(_ path: String) -> String {
        var path = path
        while path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// The first server of a `servers` list (3.x) with its variables' defaults, overridden by
    /// `overrides`; the failure is a problem at its pointer.
    static func first(
        of servers: JSONValue, at pointer: JSONPointer, overrides: [String: String], in spec: SpecDocument
    ) -> Result<ServerAddress, ImportProblem> {
        guard case .array(let list) = servers, let server = list.first else {
            return .failure(spec.problem(pointer, "expected a list of servers"))
        }
        let at = pointer.appending(0)
        guard case .string(let url)? = server["url"] else { return .failure(spec.problem(at.appending("url"), "a server needs a url")) }
        var variables: [String: String] = [:]
        for (name, variable) in server["variables"]?.objectValue ?? [:] {
            if case .string(let value)? = variable["default"] { variables[name] = value }
        }
        variables.merge(overrides) { _, new in new }
        return parse(url, variables: variables).mapError { spec.problem(at.appending("url"), $0.reason) }
    }

    /// Swagger 2.0's `schemes`, `host` and `basePath` as one server (https when offered).
    static func swagger(_ spec: SpecDocument) -> Result<ServerAddress, ImportProblem> {
        let schemes = (spec.root["schemes"]?.arrayValue ?? []).compactMap(\.stringValue)
        let scheme = schemes.contains("https") ? "https" : schemes.first ?? "https"
        let basePath = spec.root["basePath"]?.stringValue ?? ""
        guard basePath.isEmpty || basePath.hasPrefix("/") else {
            return .failure(spec.problem(JSONPointer(tokens: ["basePath"]), "'\(basePath)' must start with '/'"))
        }
        if case .string(let host)? = spec.root["host"], host.contains(where: { "/?#".contains($0) }) {
            return .failure(spec.problem(JSONPointer(tokens: ["host"]), "'\(host)' must be a host and an optional port, without a path (basePath holds the path)"))
        }
        guard case .string(let host)? = spec.root["host"] else {
            return parse(basePath, variables: [:]).mapError { spec.problem(JSONPointer(tokens: ["basePath"]), $0.reason) }
        }
        return parse("\(scheme)://\(host)\(basePath)", variables: [:]).mapError { spec.problem(JSONPointer(tokens: ["host"]), $0.reason) }
    }
}
