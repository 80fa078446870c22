/// Admission rules for `acl` configs: exactly one of `allow` or `deny`, a non-empty list of
/// consumer groups (names as consumers' `groups` take them).
enum ACLConfigRules {
    static func normalize(_ reader: inout FieldReader) throws(ConfigError) -> [String: JSONValue] {
        let allow = try groups(&reader, "allow")
        let deny = try groups(&reader, "deny")
        switch (allow, deny) {
        case (nil, nil):
            throw .invalid("is required: list the consumer groups to allow, or use deny", field: reader.field("allow"))
        case (.some, .some):
            // Kong takes both and lets deny win; one list says what the route means without a rule to learn.
            throw .invalid("give allow or deny, not both", field: reader.field("deny"))
        default: break
        }
        return [
            "allow": allow.map { .array($0.map(JSONValue.string)) } ?? .null,
            "deny": deny.map { .array($0.map(JSONValue.string)) } ?? .null,
            "hide_groups_header": .bool(try reader.optionalBool("hide_groups_header") ?? false),
        ]
    }

    private static func groups(_ reader: inout FieldReader, _ key: String) throws(ConfigError) -> [String]? {
        guard let names = try reader.optionalStrings(key) else { return nil }
        guard !names.isEmpty else { throw .invalid("must name at least one consumer group", field: reader.field(key)) }
        for (index, name) in names.enumerated() {
            try EntityName.validate(name, field: "\(reader.field(key))[\(index)]")
        }
        return Array(Set(names)).sorted()
    }
}
