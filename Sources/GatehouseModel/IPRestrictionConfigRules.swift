/// Admission rules for `ip-restriction` configs: `allow` and/or `deny` lists of CIDRs (IPv4 or
/// IPv6; a bare address is a /32 or /128), at least one entry between them.
enum IPRestrictionConfigRules {
    static func normalize(_ reader: inout FieldReader) throws(ConfigError) -> [String: JSONValue] {
        let allow = try ranges(&reader, "allow")
        let deny = try ranges(&reader, "deny")
        guard !allow.isEmpty || !deny.isEmpty else {
            throw .invalid("is required: list the client addresses (CIDRs) to allow, or to deny", field: reader.field("allow"))
        }
        return ["allow": .array(allow.map(JSONValue.string)), "deny": .array(deny.map(JSONValue.string))]
    }

    private static func ranges(_ reader: inout FieldReader, _ key: String) throws(ConfigError) -> [String] {
        let texts = try reader.optionalStrings(key) ?? []
        var seen: Set<String> = []
        var result: [String] = []
        for (index, text) in texts.enumerated() {
            guard IPRange(text) != nil else {
                throw .invalid(
                    "'\(text)' is not a CIDR: use an IPv4 or IPv6 address with an optional prefix length, such as 10.0.0.0/8 or 2001:db8::/32",
                    field: "\(reader.field(key))[\(index)]")
            }
            if seen.insert(text).inserted { result.append(text) }
        }
        return result
    }
}
