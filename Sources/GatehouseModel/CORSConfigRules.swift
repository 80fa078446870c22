import Foundation

/// Admission rules for `cors` configs: what browsers would reject or what is unsafe is refused.
enum CORSConfigRules {
    static func normalize(_ reader: inout FieldReader) throws(ConfigError) -> [String: JSONValue] {
        guard let origins = try reader.optionalStrings("allow_origins"), !origins.isEmpty else {
            throw .invalid("must list at least one origin", field: reader.field("allow_origins"))
        }
        let allowNull = try reader.optionalBool("allow_null_origin") ?? false
        for (index, origin) in origins.enumerated() {
            let field = "\(reader.field("allow_origins"))[\(index)]"
            if origin == "null" {
                guard allowNull else {
                    throw .invalid(
                        "'null' is the origin of sandboxed frames, file: pages and redirected requests; allowing it allows any of them (set allow_null_origin: true if you mean it)",
                        field: field)
                }
                continue
            }
            try validateOrigin(origin, field: field)
        }
        if allowNull, !origins.contains("null") {
            throw .invalid("allows the 'null' origin only when allow_origins lists \"null\"", field: reader.field("allow_null_origin"))
        }
        let methods = try tokens(reader.optionalStrings("allow_methods") ?? ["GET", "HEAD", "POST"], &reader, "allow_methods").map { $0.uppercased() }
        let allowHeaders = try tokens(reader.optionalStrings("allow_headers") ?? [], &reader, "allow_headers").map { $0.lowercased() }
        let exposeHeaders = try tokens(reader.optionalStrings("expose_headers") ?? [], &reader, "expose_headers").map { $0.lowercased() }
        let credentials = try reader.optionalBool("allow_credentials") ?? false
        if credentials {
            if origins.contains("*") {
                throw .invalid("browsers refuse credentials with the wildcard origin '*': list the origins", field: reader.field("allow_credentials"))
            }
            // With credentials, browsers read '*' in these lists as a header or method literally named '*'.
            for key in ["allow_methods", "allow_headers", "expose_headers"]
            where (key == "allow_methods" ? methods : key == "allow_headers" ? allowHeaders : exposeHeaders).contains("*") {
                throw .invalid("'*' is not a wildcard for browsers when allow_credentials is true: list the names", field: reader.field(key))
            }
        }
        if origins.contains("*"), origins.count > 1 {
            throw .invalid("'*' already allows every origin: list origins or '*', not both", field: reader.field("allow_origins"))
        }
        let maxAge = try reader.optionalInt("max_age", in: 0...86_400) ?? 600
        return [
            "allow_origins": .array(origins.map(JSONValue.string)),
            "allow_methods": .array(methods.map(JSONValue.string)),
            "allow_headers": .array(allowHeaders.map(JSONValue.string)),
            "expose_headers": .array(exposeHeaders.map(JSONValue.string)),
            "allow_credentials": .bool(credentials),
            "max_age": .int(maxAge),
            "allow_null_origin": .bool(allowNull),
        ]
    }

    private static func tokens(_ values: [String], _ reader: inout FieldReader, _ key: String) throws(ConfigError) -> [String] {
        for (index, value) in values.enumerated() where !EntityName.isToken(value) {
            throw .invalid("'\(value)' is not a token", field: "\(reader.field(key))[\(index)]")
        }
        return values
    }

    /// `*`, `scheme://host[:port]`, or `scheme://*.domain[:port]`, with no path or trailing slash.
    static func validateOrigin(_ origin: String, field: String) throws(ConfigError) {
        if origin == "*" { return }
        guard let schemeEnd = origin.range(of: "://") else {
            throw .invalid("'\(origin)' is not an origin: use scheme://host[:port]", field: field)
        }
        let scheme = origin[..<schemeEnd.lowerBound]
        guard scheme == "http" || scheme == "https" else { throw .invalid("'\(origin)' must use http or https", field: field) }
        var authority = origin[schemeEnd.upperBound...]
        guard !authority.contains("/") else {
            throw .invalid("'\(origin)' has a path or trailing slash; an origin is scheme://host[:port]", field: field)
        }
        if let colon = authority.lastIndex(of: ":") {
            guard let port = Int(authority[authority.index(after: colon)...]), (1...65535).contains(port) else {
                throw .invalid("'\(origin)' has an invalid port", field: field)
            }
            authority = authority[..<colon]
        }
        if authority.hasPrefix("*.") { authority = authority.dropFirst(2) }
        guard UpstreamTarget.isHostName(authority), authority == authority.lowercased() else {
            throw .invalid("'\(origin)' has an invalid or non-lowercase host", field: field)
        }
    }
}
