/// Which requests go to an upstream. Lists are kept normalized (hosts lowercase, methods
/// uppercase, all sorted and unique) so that equal rules give equal snapshots and conflicts are
/// found by comparing values.
public struct Route: Sendable, Hashable {
    /// Exact hosts or `*.example.com`; empty matches any host.
    public var hosts: [String] {
        get { fields.hosts }
        set { unique().hosts = newValue }
    }
    /// Path prefixes matched on segment boundaries, exact paths (`=/x`), with template segments
    /// (`/recipes/{id}`); empty matches any path.
    public var paths: [String] {
        get { fields.paths }
        set { unique().paths = newValue }
    }
    /// Empty matches any method.
    public var methods: [String] {
        get { fields.methods }
        set { unique().methods = newValue }
    }
    /// Lowercase header name → allowed values; every listed header must match.
    public var headers: [String: [String]] {
        get { fields.headers }
        set { unique().headers = newValue }
    }
    public var stripPath: Bool {
        get { fields.stripPath }
        set { unique().stripPath = newValue }
    }
    public var preserveHost: Bool {
        get { fields.preserveHost }
        set { unique().preserveHost = newValue }
    }
    /// The path to forward instead of the matched part, with `{name}` parameters captured by
    /// the route's path templates; nil to forward the path (less the prefix with `strip_path`).
    public var upstreamPath: String? {
        get { fields.upstreamPath }
        set { unique().upstreamPath = newValue }
    }
    /// Whether the route's requests are also counted by consumer
    /// (`gatehouse_http_consumer_requests_total`); off by default, as each consumer adds series.
    public var consumerMetrics: Bool {
        get { fields.consumerMetrics }
        set { unique().consumerMetrics = newValue }
    }
    /// Whether a request that came over plain HTTP is answered `308` to the same URL on https.
    public var httpsRedirect: Bool {
        get { fields.httpsRedirect }
        set { unique().httpsRedirect = newValue }
    }
    /// The `Strict-Transport-Security` answers over TLS carry, if any.
    public var hsts: StrictTransportSecurity? {
        get { fields.hsts }
        set { unique().hsts = newValue }
    }
    /// The upstream's name.
    public var upstream: String {
        get { fields.upstream }
        set { unique().upstream = newValue }
    }
    public var header: EntityHeader {
        get { fields.header }
        set { unique().header = newValue }
    }

    public var id: String { header.id }
    public var name: String { header.name }

    /// The fields in one shared box, copied when a copy is changed. A config holds up to 100,000
    /// routes and a data plane applying a one-route change walks and compares all of them: a
    /// copy costs one retain instead of one per field, and two routes sharing a box are equal
    /// without comparing fields.
    private final class Fields: @unchecked Sendable {
        // Changed only through `unique()`, while no other route holds the box.
        var header: EntityHeader
        var hosts: [String] = []
        var paths: [String] = []
        var methods: [String] = []
        var headers: [String: [String]] = [:]
        var stripPath = false
        var preserveHost = false
        var upstreamPath: String?
        var consumerMetrics = false
        var httpsRedirect = false
        var hsts: StrictTransportSecurity?
        var upstream: String

        init(header: EntityHeader, upstream: String) {
            self.header = header
            self.upstream = upstream
        }

        func copy() -> Fields {
            let copy = Fields(header: header, upstream: upstream)
            (copy.hosts, copy.paths, copy.methods, copy.headers) = (hosts, paths, methods, headers)
            (copy.stripPath, copy.preserveHost, copy.upstreamPath, copy.consumerMetrics) = (stripPath, preserveHost, upstreamPath, consumerMetrics)
            (copy.httpsRedirect, copy.hsts) = (httpsRedirect, hsts)
            return copy
        }
    }

    private var fields: Fields

    private mutating func unique() -> Fields {
        if !isKnownUniquelyReferenced(&fields) { fields = fields.copy() }
        return fields
    }

    public init(header: EntityHeader, upstream: String) {
        fields = Fields(header: header, upstream: upstream)
    }

    public static func == (a: Route, b: Route) -> Bool {
        if a.fields === b.fields { return true }
        let (x, y) = (a.fields, b.fields)
        return x.header == y.header && x.hosts == y.hosts && x.paths == y.paths && x.methods == y.methods && x.headers == y.headers
            && x.stripPath == y.stripPath && x.preserveHost == y.preserveHost && x.upstreamPath == y.upstreamPath && x.upstream == y.upstream
            && x.consumerMetrics == y.consumerMetrics && x.httpsRedirect == y.httpsRedirect && x.hsts == y.hsts
    }

    public func hash(into hasher: inout Hasher) {
        let x = fields
        hasher.combine(x.header)
        hasher.combine(x.hosts)
        hasher.combine(x.paths)
        hasher.combine(x.methods)
        hasher.combine(x.headers)
        hasher.combine(x.stripPath)
        hasher.combine(x.preserveHost)
        hasher.combine(x.upstreamPath)
        hasher.combine(x.consumerMetrics)
        hasher.combine(x.httpsRedirect)
        hasher.combine(x.hsts)
        hasher.combine(x.upstream)
    }

    public static func read(_ value: JSONValue, id: String? = nil, path: String = "") throws(ConfigError) -> Route {
        var reader = try FieldReader(value, path: path)
        let header = try EntityHeader.read(&reader, id: id)
        let upstream = try reader.string("upstream")
        var route = Route(header: header, upstream: upstream)
        route.hosts = try normalized(reader.optionalStrings("hosts"), field: reader.field("hosts"), validHost)
        route.paths = try normalized(reader.optionalStrings("paths"), field: reader.field("paths"), validPath)
        route.methods = try normalized(reader.optionalStrings("methods"), field: reader.field("methods")) { method throws(ConfigError) in
            guard EntityName.isToken(method) else { throw .invalid("'\(method)' is not an HTTP method") }
            return method.uppercased()
        }
        if var headers = try reader.optionalObject("headers") {
            for name in headers.keys.sorted() {
                let field = headers.field(name)
                guard EntityName.isToken(name) else { throw .invalid("'\(name)' is not a header name", field: field) }
                guard let values = try headers.optionalStrings(name), !values.isEmpty else {
                    throw .invalid("must list at least one allowed value", field: field)
                }
                route.headers[name.lowercased()] = Array(Set(values)).sorted()
            }
        }
        route.stripPath = try reader.optionalBool("strip_path") ?? false
        route.preserveHost = try reader.optionalBool("preserve_host") ?? false
        if let text = try reader.optionalString("upstream_path") {
            let field = reader.field("upstream_path")
            let template: RoutePath
            do {
                template = try RoutePath(text)
            } catch {
                throw .invalid(error.message, field: field)
            }
            guard !template.exact else { throw .invalid("is a path to forward; = does not apply", field: field) }
            for name in template.parameterNames {
                for path in route.paths where !((try? RoutePath(path))?.parameterNames.contains(name) ?? false) {
                    throw .invalid("uses {\(name)}, which the path '\(path)' does not capture", field: field)
                }
            }
            if route.paths.isEmpty, !template.parameterNames.isEmpty {
                throw .invalid("uses parameters, but the route has no path templates to capture them", field: field)
            }
            route.upstreamPath = template.text
        }
        route.consumerMetrics = try reader.optionalBool("consumer_metrics") ?? false
        route.httpsRedirect = try reader.optionalBool("https_redirect") ?? false
        if let hsts = try reader.optionalObject("hsts") { route.hsts = try StrictTransportSecurity.read(hsts) }
        try reader.finish()
        return route
    }

    public func json() -> JSONValue {
        var fields = header.fields()
        fields["hosts"] = .array(hosts.map(JSONValue.string))
        fields["paths"] = .array(paths.map(JSONValue.string))
        fields["methods"] = .array(methods.map(JSONValue.string))
        fields["headers"] = .object(headers.mapValues { .array($0.map(JSONValue.string)) })
        fields["strip_path"] = .bool(stripPath)
        fields["preserve_host"] = .bool(preserveHost)
        fields["upstream_path"] = upstreamPath.map(JSONValue.string) ?? .null
        fields["upstream"] = .string(upstream)
        // Written only when on: documents (and their hashes) without it stay as they were, and a
        // data plane of an earlier release refuses only a config that uses it.
        if consumerMetrics { fields["consumer_metrics"] = .bool(true) }
        if httpsRedirect { fields["https_redirect"] = .bool(true) }
        if let hsts { fields["hsts"] = hsts.json() }
        return .object(fields)
    }

    private static func normalized(
        _ values: [String]?, field: @autoclosure () -> String, _ transform: (String) throws(ConfigError) -> String
    ) throws(ConfigError) -> [String] {
        guard let values, !values.isEmpty else { return [] }
        // One value (the common case) needs no set to de-duplicate.
        if values.count == 1 {
            do {
                return [try transform(values[0])]
            } catch {
                throw .invalid(error.message, field: "\(field())[0]")
            }
        }
        var result: Set<String> = []
        for (index, value) in values.enumerated() {
            do {
                result.insert(try transform(value))
            } catch {
                throw .invalid(error.message, field: "\(field())[\(index)]")
            }
        }
        return result.sorted()
    }

    private static func validHost(_ host: String) throws(ConfigError) -> String {
        // `api.example.com.` is the same name as `api.example.com` (RFC 1034), and requests are
        // routed without the dot.
        let lower = host.hasSuffix(".") ? String(host.lowercased().dropLast()) : host.lowercased()
        let bare = lower.hasPrefix("*.") ? lower.dropFirst(2) : Substring(lower)
        guard !bare.contains("*"), UpstreamTarget.isHostName(bare) else {
            throw .invalid("'\(host)' is not a host: use a DNS name such as api.example.com or *.example.com, without a port")
        }
        return lower
    }

    private static func validPath(_ path: String) throws(ConfigError) -> String {
        try RoutePath(path).text
    }
}
