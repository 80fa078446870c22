/// Admission rules the token policies (`jwt`, `oauth2-introspection`) share: where the token is
/// read from, the audiences and scopes it must carry, the claims forwarded as headers, and the
/// consumer it maps to.
enum TokenRules {
    static func normalize(_ reader: inout FieldReader, into fields: inout [String: JSONValue]) throws(ConfigError) {
        if let audiences = try reader.optionalStrings("audiences") {
            guard !audiences.isEmpty else { throw .invalid("must not be empty: leave it out to accept any audience", field: reader.field("audiences")) }
            fields["audiences"] = .array(Array(Set(audiences)).sorted().map(JSONValue.string))
        } else {
            fields["audiences"] = .null
        }
        let scopes = try reader.optionalStrings("required_scopes") ?? []
        for (index, scope) in scopes.enumerated() where scope.isEmpty || scope.contains(" ") {
            throw .invalid("a scope is one word", field: "\(reader.field("required_scopes"))[\(index)]")
        }
        fields["required_scopes"] = .array(Array(Set(scopes)).sorted().map(JSONValue.string))
        var forwarded: [String: JSONValue] = [:]
        if var forward = try reader.optionalObject("forward_claims") {
            for claim in forward.keys.sorted() {
                let header = try forward.string(claim)
                guard EntityName.isToken(header), !forbiddenHeaders.contains(header.lowercased()) else {
                    throw .invalid("'\(header)' is not a header a claim can be forwarded in", field: forward.field(claim))
                }
                guard !forwarded.values.contains(.string(header.lowercased())) else {
                    throw .invalid("'\(header)' already carries another claim", field: forward.field(claim))
                }
                forwarded[claim] = .string(header.lowercased())
            }
        }
        fields["forward_claims"] = .object(forwarded)

        let header = try reader.optionalString("header") ?? "authorization"
        guard EntityName.isToken(header), header.lowercased() == "authorization" || !forbiddenHeaders.contains(header.lowercased()) else {
            throw .invalid("'\(header)' is not a header a token can be read from", field: reader.field("header"))
        }
        fields["header"] = .string(header.lowercased())
        fields["query_parameter"] = try reader.optionalString("query_parameter").map(JSONValue.string) ?? .null
        fields["cookie"] = try reader.optionalString("cookie").map(JSONValue.string) ?? .null
        fields["max_token_bytes"] = .int(try reader.optionalInt("max_token_bytes", in: 256...65_536) ?? 8_192)
        fields["cache_size"] = .int(try reader.optionalInt("cache_size", in: 0...1_000_000) ?? 10_000)
        fields["hide_credentials"] = .bool(try reader.optionalBool("hide_credentials") ?? true)
        fields["consumer_claim"] = try reader.optionalString("consumer_claim").map(JSONValue.string) ?? .null
        fields["anonymous"] = .null
        if let anonymous = try reader.optionalString("anonymous") {
            try EntityName.validate(anonymous, field: reader.field("anonymous"))
            fields["anonymous"] = .string(anonymous)
        }
    }

    /// Headers a claim may never be forwarded in: framing, hop-by-hop, and the gateway's own
    /// identity headers.
    static let forbiddenHeaders: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer", "proxy-authorization",
        "proxy-connection", "expect", "via", "authorization", "cookie", "forwarded", "x-forwarded-for", "x-forwarded-host",
        "x-forwarded-proto", "x-forwarded-port", "x-real-ip", "x-request-id", "x-consumer-id", "x-consumer-name", "x-consumer-custom-id",
        "x-consumer-groups", "x-anonymous-consumer", "x-token-subject", "x-token-scopes",
    ]

    /// An http(s) URL of a host the gateway calls (a key set, an introspection endpoint):
    /// ASCII, no user info, no fragment, a port from 1 to 65535 if one is given.
    static func checkURL(_ url: String, field: String) throws(ConfigError) {
        let lower = url.lowercased()
        let rest = lower.hasPrefix("https://") ? lower.dropFirst(8) : lower.hasPrefix("http://") ? lower.dropFirst(7) : nil
        let authority = rest.flatMap { $0.split(maxSplits: 1, omittingEmptySubsequences: false, whereSeparator: { "/?".contains($0) }).first } ?? ""
        // The port is what follows the last colon outside an IPv6 literal's brackets.
        let afterHost = authority.lastIndex(of: "]").map { authority[authority.index(after: $0)...] } ?? authority
        let port = afterHost.lastIndex(of: ":").map { afterHost[afterHost.index(after: $0)...] }
        guard rest != nil, !authority.isEmpty, !authority.hasPrefix(":"), !authority.contains("@"), !url.contains("#"),
            url.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }), port.map({ Int($0).map { (1...65_535).contains($0) } ?? false }) ?? true
        else { throw .invalid("'\(url)' is not an http(s) URL of a host (ASCII, no user info, no fragment, a port up to 65535)", field: field) }
    }
}
