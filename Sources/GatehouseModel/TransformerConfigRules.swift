/// Admission rules for `request-transformer` and `response-transformer` configs: `remove`,
/// `rename`, `set` and `add`, each of `headers` (and, on requests, `query` parameters).
/// Values are `TransformTemplate`s. Names are checked here so a data plane never writes a
/// field that frames the message or that the gateway itself owns.
enum TransformerConfigRules {
    static let operations = ["remove", "rename", "set", "add"]

    /// Hop-by-hop and framing fields: changing them would change how the message is delimited
    /// or how the connection behaves, not what it says. `Host` is the gateway's (see
    /// `preserve_host`), `Via` and `Expect` too.
    static let refusedEitherWay: Set<String> = [
        "connection", "content-length", "transfer-encoding", "host", "upgrade", "te", "trailer", "keep-alive", "via", "expect",
    ]

    /// What the gateway writes into requests from what it knows: the caller's identity (which
    /// a transform could otherwise forge) and the forwarding fields.
    static let refusedOnRequests: Set<String> = [
        "x-consumer-id", "x-consumer-name", "x-consumer-custom-id", "x-consumer-groups", "x-anonymous-consumer",
        "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "forwarded", "x-real-ip", "x-request-id",
    ]

    static func normalize(_ reader: inout FieldReader, request: Bool) throws(ConfigError) -> [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        var any = false
        for operation in operations {
            var targets: [String: JSONValue] = [:]
            var sub = try reader.optionalObject(operation)
            for target in request ? ["headers", "query"] : ["headers"] {
                var value: JSONValue = operation == "remove" ? .array([]) : .object([:])
                if sub != nil { value = try normalize(&sub!, operation: operation, target: target, request: request) }
                if value != .array([]), value != .object([:]) { any = true }
                targets[target] = value
            }
            try sub?.finish()
            result[operation] = .object(targets)
        }
        // An unknown operation (`append`, say) is named before "nothing to do" is said.
        try reader.finish()
        guard any else {
            throw .invalid(
                "must transform something: give remove, rename, set or add with \(request ? "headers or query parameters" : "headers")",
                field: reader.path.isEmpty ? nil : reader.path)
        }
        return result
    }

    private static func normalize(
        _ reader: inout FieldReader, operation: String, target: String, request: Bool
    ) throws(ConfigError) -> JSONValue {
        let field = reader.field(target)
        func check(_ name: String, _ at: String) throws(ConfigError) {
            if target == "headers" { try headerName(name, request: request, field: at) } else { try queryName(name, field: at) }
        }
        if operation == "remove" {
            let names = try reader.optionalStrings(target) ?? []
            var seen: Set<String> = []
            for (index, name) in names.enumerated() { try check(name, "\(field)[\(index)]") }
            let kept = names.map { target == "headers" ? $0.lowercased() : $0 }.filter { seen.insert($0).inserted }
            return .array(kept.sorted().map(JSONValue.string))
        }
        guard var pairs = try reader.optionalObject(target) else { return .object([:]) }
        var out: [String: JSONValue] = [:]
        for key in pairs.keys.sorted() {
            let at = pairs.field(key)
            try check(key, at)
            let value = try pairs.string(key)
            let name = target == "headers" ? key.lowercased() : key
            guard out[name] == nil else { throw .invalid("is given twice (header names ignore case)", field: at) }
            if operation == "rename" {
                try check(value, at)
                let renamed = target == "headers" ? value.lowercased() : value
                guard renamed != name else { throw .invalid("renames '\(key)' to itself", field: at) }
                out[name] = .string(renamed)
            } else {
                do {
                    _ = try TransformTemplate(value)
                } catch {
                    throw .invalid(error.message, field: at)
                }
                out[name] = .string(value)
            }
        }
        try pairs.finish()
        return .object(out)
    }

    private static func headerName(_ name: String, request: Bool, field: String) throws(ConfigError) {
        guard EntityName.isToken(name) else { throw .invalid("'\(name)' is not a header name", field: field) }
        let lower = name.lowercased()
        if refusedEitherWay.contains(lower) || lower.hasPrefix("proxy-") {
            throw .invalid("'\(name)' frames the message or the connection (or is the gateway's own): a transform cannot change it", field: field)
        }
        if request, refusedOnRequests.contains(lower) {
            throw .invalid(
                "'\(name)' is written by the gateway from what it knows (the consumer, the client): a transform cannot change it", field: field)
        }
    }

    private static func queryName(_ name: String, field: String) throws(ConfigError) {
        // Unreserved characters only (RFC 3986 §2.3): the name is the same encoded or not.
        guard (1...128).contains(name.utf8.count),
            name.utf8.allSatisfy({ byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
            })
        else {
            throw .invalid("'\(name)' is not a query parameter name this gateway transforms: use letters, digits, -, ., _ and ~", field: field)
        }
    }

    /// Every `$(path.NAME)` a normalized config uses, with the field it is in, for the check that
    /// each route the policy runs on captures it.
    static func pathParameters(in config: JSONValue) -> [(name: String, field: String)] {
        var found: [(String, String)] = []
        for operation in ["set", "add"] {
            guard case .object(let targets)? = config[operation] else { continue }
            for target in targets.keys.sorted() {
                guard case .object(let pairs)? = targets[target] else { continue }
                for key in pairs.keys.sorted() {
                    guard case .string(let text)? = pairs[key], let template = try? TransformTemplate(text) else { continue }
                    for name in template.pathParameters { found.append((name, "config.\(operation).\(target).\(key)")) }
                }
            }
        }
        return found
    }
}
