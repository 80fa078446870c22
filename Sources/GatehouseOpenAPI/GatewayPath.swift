import GatehouseModel

/// An operation's path (`/pets/{petId}`) as a route path: template segments with names the
/// router takes (`{pet-id}` becomes `{pet_id}`), under the base path `--base-path` chooses, and
/// the path the upstream gets when it differs from the gateway's.
struct GatewayPath: Sendable, Equatable {
    /// The route's path, exact (`=/api/v3/pets/{petId}`).
    var routePath: String
    /// The path to forward instead (`upstream_path`), or nil to forward the gateway's path.
    var upstreamPath: String?
    /// The operation's own path with router parameter names.
    var operationPath: String
    var warnings: [String]

    /// - Parameters:
    ///   - serverPath: the server URL's path (`/api/v3`, or empty).
    ///   - stripServerPath: `x-gatehouse.strip_path`: the upstream gets the operation's path alone.
    static func make(
        _ path: String, serverPath: String, basePath: OpenAPIImportOptions.BasePath, stripServerPath: Bool
    ) -> Result<GatewayPath, Refusal> {
        var warnings: [String] = []
        if path.count > 1, path.hasSuffix("/") {
            // Routes hold no trailing slash: `/users/` would route as `/users`, and a request for
            // `/users/` would pass this operation's policies by.
            warnings.append(
                "the path ends with '/', which routes cannot hold: the route serves '\(path.dropLast())', and a request for '\(path)' reaches another route or a 404")
        }
        var segments: [String] = []
        var used: Set<String> = []
        for raw in path.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            guard raw.contains("{") else {
                segments.append(String(raw))
                continue
            }
            let whole = raw.hasPrefix("{") && raw.hasSuffix("}") && raw.filter({ $0 == "{" }).count == 1
            let inner = raw.drop { $0 != "{" }.dropFirst().prefix { $0 != "}" }
            if !whole {
                warnings.append("the segment '\(raw)' mixes text and a parameter; the route matches any value in that segment")
            }
            var name = String(inner.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "_" })
            if !(name.first.map { $0.isASCII && $0.isLetter } ?? false) { name = "p_" + name }
            name = String(name.prefix(60))
            var unique = name
            var counter = 2
            while !used.insert(unique).inserted {
                unique = "\(name)_\(counter)"
                counter += 1
            }
            segments.append("{\(unique)}")
        }
        let operationPath = "/" + segments.joined(separator: "/")
        let gateway: String
        let forwarded: String
        switch basePath {
        case .keep: gateway = serverPath + operationPath
        case .strip: gateway = operationPath
        case .prefix(let prefix): gateway = prefix + operationPath
        }
        forwarded = stripServerPath ? operationPath : serverPath + operationPath
        func normalized(_ text: String) -> String {
            text.count > 1 && text.hasSuffix("/") ? String(text.dropLast()) : text
        }
        let routePath: RoutePath
        do {
            routePath = try RoutePath("=" + normalized(gateway))
        } catch {
            return .failure("the gateway path '\(gateway)' cannot be routed: \(error.message)")
        }
        var upstreamPath: String?
        if normalized(forwarded) != normalized(gateway) {
            do {
                upstreamPath = try RoutePath(normalized(forwarded)).text
            } catch {
                return .failure("the upstream path '\(forwarded)' is not a path: \(error.message)")
            }
        }
        return .success(GatewayPath(routePath: routePath.text, upstreamPath: upstreamPath, operationPath: operationPath, warnings: warnings))
    }
}
