import GatehouseModel

/// CORS from the spec itself: a `cors` policy that does not list them gets, for each path, the
/// methods the spec declares on that path and the request headers it declares there (header
/// parameters, the API key headers of its security schemes, and `content-type` when a body of a
/// type a plain form cannot send is declared). So a header the spec declares is never missing
/// from a preflight's answer, and one it never declares is refused.
struct DerivedCORS: Sendable {
    struct Operation: Sendable {
        var path: String
        var method: String
        var headers: Set<String>
        var keyHeaders: [String]
        var bodyMediaTypes: Set<String>
    }

    /// The media types a page may send without a preflight (Fetch's CORS-safelisted values).
    static let safelistedMediaTypes: Set<String> = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"]

    private var methods: [String: Set<String>] = [:]
    private var headers: [String: Set<String>] = [:]

    init(_ operations: [Operation]) {
        for operation in operations {
            methods[operation.path, default: []].insert(operation.method)
            var names = operation.headers.union(operation.keyHeaders)
            if operation.bodyMediaTypes.contains(where: { !Self.safelistedMediaTypes.contains($0) }) { names.insert("content-type") }
            headers[operation.path, default: []].formUnion(names)
        }
    }

    /// `config` with `allow_methods` and `allow_headers` filled in for `path` where not given.
    func config(_ config: [String: JSONValue], path: String) -> [String: JSONValue] {
        var config = config
        if config["allow_methods"] == nil { config["allow_methods"] = .array((methods[path] ?? []).sorted().map(JSONValue.string)) }
        if config["allow_headers"] == nil { config["allow_headers"] = .array((headers[path] ?? []).sorted().map(JSONValue.string)) }
        return config
    }
}
