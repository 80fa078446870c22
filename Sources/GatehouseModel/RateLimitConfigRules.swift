/// Admission rules for `rate-limit` configs.
enum RateLimitConfigRules {
    static func normalize(_ reader: inout FieldReader) throws(ConfigError) -> [String: JSONValue] {
        guard let limit = try reader.optionalInt("limit", in: 1...Int(Int32.max)) else { throw reader.missing("limit") }
        guard let window = try reader.optionalDuration("window") else { throw reader.missing("window") }
        guard window >= .seconds(1), window <= .seconds(86_400 * 31) else {
            throw .invalid("must be from 1s to 31d", field: reader.field("window"))
        }
        let by = try reader.optionalString("by") ?? "consumer"
        guard ["consumer", "ip", "header", "route"].contains(by) else {
            throw .invalid("must be consumer, ip, header or route", field: reader.field("by"))
        }
        let headerName = try reader.optionalString("header_name")
        if by == "header" {
            guard let headerName, EntityName.isToken(headerName) else {
                throw .invalid("must name a header when by is header", field: reader.field("header_name"))
            }
        } else if headerName != nil {
            throw .invalid("applies only when by is header", field: reader.field("header_name"))
        }
        let backend = try reader.optionalString("backend") ?? "local"
        guard ["local", "redis"].contains(backend) else { throw .invalid("must be local or redis", field: reader.field("backend")) }
        let redisURL = try reader.optionalString("redis_url")
        if backend == "redis" {
            guard let redisURL else { throw .invalid("is required with the redis backend", field: reader.field("redis_url")) }
            try validateRedisURL(redisURL, field: reader.field("redis_url"))
        } else if redisURL != nil {
            throw .invalid("applies only to the redis backend", field: reader.field("redis_url"))
        }
        return [
            "limit": .int(limit),
            "window": .string(window.configText),
            "by": .string(by),
            "header_name": headerName.map { .string($0.lowercased()) } ?? .null,
            "backend": .string(backend),
            "redis_url": redisURL.map(JSONValue.string) ?? .null,
            "fail_open": .bool(try reader.optionalBool("fail_open") ?? true),
        ]
    }

    static func validateRedisURL(_ url: String, field: String) throws(ConfigError) {
        guard RedisAddress(url) != nil else {
            throw .invalid("'\(url)' is not a Redis URL: use redis://host:port[/db]", field: field)
        }
    }
}
