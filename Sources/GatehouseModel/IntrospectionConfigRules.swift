/// Admission rules for `oauth2-introspection` configs (RFC 7662): the endpoint and the client
/// credentials it is called with, and the bounds that keep the auth service from being flooded:
/// how long answers are kept, how many calls may be in flight, and when the breaker opens.
public enum IntrospectionConfigRules {
    static func normalize(_ reader: inout FieldReader) throws(ConfigError) -> [String: JSONValue] {
        guard let url = try reader.optionalString("introspection_url") else { throw reader.missing("introspection_url") }
        try TokenRules.checkURL(url, field: reader.field("introspection_url"))
        var fields: [String: JSONValue] = ["introspection_url": .string(url)]
        for key in ["client_id", "client_secret"] {
            guard let value = try reader.optionalString(key) else { throw reader.missing(key) }
            guard (1...1024).contains(value.utf8.count), value.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else {
                throw .invalid("must be 1 to 1024 bytes without control characters", field: reader.field(key))
            }
            fields[key] = .string(value)
        }
        let clientAuth = try reader.optionalString("client_auth") ?? "basic"
        guard ["basic", "body"].contains(clientAuth) else {
            throw .invalid("must be basic (HTTP Basic) or body (client_id and client_secret in the form)", field: reader.field("client_auth"))
        }
        fields["client_auth"] = .string(clientAuth)
        let hint = try reader.optionalString("token_type_hint") ?? "access_token"
        guard !hint.isEmpty, hint.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "&") }) else {
            throw .invalid("must be a word such as access_token", field: reader.field("token_type_hint"))
        }
        fields["token_type_hint"] = .string(hint)

        func duration(_ key: String, _ fallback: Duration, _ range: ClosedRange<Duration>) throws(ConfigError) {
            let value = try reader.optionalDuration(key) ?? fallback
            guard range.contains(value) else {
                throw .invalid("must be from \(range.lowerBound.configText) to \(range.upperBound.configText)", field: reader.field(key))
            }
            fields[key] = .string(value.configText)
        }
        try duration("max_ttl", .seconds(300), .seconds(1)...Duration.seconds(86_400))
        try duration("negative_ttl", .seconds(10), .seconds(0)...Duration.seconds(600))
        try duration("stale_if_error", .seconds(60), .seconds(0)...Duration.seconds(86_400))
        try duration("timeout", .seconds(2), .milliseconds(100)...Duration.seconds(30))
        try duration("breaker_cooldown", .seconds(10), .seconds(1)...Duration.seconds(600))
        fields["breaker_failures"] = .int(try reader.optionalInt("breaker_failures", in: 1...1_000) ?? 5)
        fields["max_in_flight"] = .int(try reader.optionalInt("max_in_flight", in: 1...1_024) ?? 16)
        if let redisURL = try reader.optionalString("redis_url") {
            try RateLimitConfigRules.validateRedisURL(redisURL, field: reader.field("redis_url"))
            fields["redis_url"] = .string(redisURL)
        } else {
            fields["redis_url"] = .null
        }
        try TokenRules.normalize(&reader, into: &fields)
        return fields
    }
}
