/// Admission rules for `basic-auth` configs: checked against the consumers' `basic-auth`
/// credentials, whose PBKDF2 hashes are slow on purpose. A success is remembered for
/// `cache_ttl`, so a client sending its password on every request costs one derivation per
/// period, and failures are counted per client address so guessing stays slow too.
enum BasicAuthConfigRules {
    static func normalize(_ reader: inout FieldReader) throws(ConfigError) -> [String: JSONValue] {
        var fields: [String: JSONValue] = ["hide_credentials": .bool(try reader.optionalBool("hide_credentials") ?? true), "anonymous": .null]
        if let anonymous = try reader.optionalString("anonymous") {
            try EntityName.validate(anonymous, field: reader.field("anonymous"))
            fields["anonymous"] = .string(anonymous)
        }
        let realm = try reader.optionalString("realm") ?? "gatehouse"
        guard (1...128).contains(realm.utf8.count), realm.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
        else { throw .invalid("must be 1 to 128 visible ASCII characters without quotes or backslashes", field: reader.field("realm")) }
        fields["realm"] = .string(realm)
        let ttl = try reader.optionalDuration("cache_ttl") ?? .seconds(60)
        guard ttl >= .zero, ttl <= .seconds(3_600) else { throw .invalid("must be from 0s to 1h", field: reader.field("cache_ttl")) }
        fields["cache_ttl"] = .string(ttl.configText)
        fields["cache_size"] = .int(try reader.optionalInt("cache_size", in: 0...1_000_000) ?? 10_000)
        fields["failures_per_minute"] = .int(try reader.optionalInt("failures_per_minute", in: 1...10_000) ?? 10)
        return fields
    }
}
