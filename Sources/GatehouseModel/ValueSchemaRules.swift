/// Admission rules for the JSON Schema subset a `request-validation` policy checks values
/// against: `type`, `nullable`, `enum`, `pattern`, `minLength`/`maxLength`, `minimum`/`maximum`
/// (and their exclusive forms), `items`, `minItems`/`maxItems`, `properties`, `required` and
/// `additionalProperties`. A keyword outside it is refused, so a config never seems to check
/// something the gateway does not.
public enum ValueSchemaRules {
    public static let types = ["string", "integer", "number", "boolean", "array", "object", "null"]
    public static let keywords = [
        "type", "nullable", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "items", "minItems", "maxItems", "properties", "required", "additionalProperties",
    ]
    /// Deeper schemas are refused: the compiled checker recurses once per level.
    public static let maxDepth = 32

    /// Checks `value` as a schema and returns it normalized: `type` always a sorted list.
    public static func normalize(_ value: JSONValue, path: String, depth: Int = 0) throws(ConfigError) -> JSONValue {
        guard depth < maxDepth else { throw .invalid("schemas nest deeper than \(maxDepth) levels", field: path) }
        var reader = try FieldReader(value, path: path)
        var result: [String: JSONValue] = [:]
        if let type = reader.value("type") {
            let names: [String]
            switch type {
            case .string(let name): names = [name]
            case .array(let items) where !items.isEmpty && items.allSatisfy({ $0.stringValue != nil }): names = items.compactMap(\.stringValue)
            default: throw .invalid("expected a type name or a list of them", field: reader.field("type"))
            }
            for name in names where !types.contains(name) {
                throw .invalid("'\(name)' is not a type: use \(types.joined(separator: ", "))", field: reader.field("type"))
            }
            result["type"] = .array(Array(Set(names)).sorted().map(JSONValue.string))
        }
        if let nullable = try reader.optionalBool("nullable") { result["nullable"] = .bool(nullable) }
        if let values = try reader.optionalArray("enum") {
            guard !values.isEmpty else { throw .invalid("must list at least one value", field: reader.field("enum")) }
            result["enum"] = .array(values)
        }
        if let pattern = try reader.optionalString("pattern") {
            do {
                _ = try Regex(pattern)
            } catch {
                throw .invalid("'\(pattern)' is not a regular expression", field: reader.field("pattern"))
            }
            result["pattern"] = .string(pattern)
        }
        for key in ["minLength", "maxLength", "minItems", "maxItems"] {
            if let count = try reader.optionalInt(key, in: 0...Int(Int32.max)) { result[key] = .int(count) }
        }
        for key in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] {
            guard let bound = reader.value(key) else { continue }
            guard bound.numberValue != nil else { throw .invalid("expected a number, got \(bound.typeName)", field: reader.field(key)) }
            result[key] = bound
        }
        for (lowKey, highKey) in [("minLength", "maxLength"), ("minItems", "maxItems"), ("minimum", "maximum")] {
            if let low = result[lowKey]?.numberValue, let high = result[highKey]?.numberValue, low > high {
                throw .invalid("is less than \(lowKey)", field: reader.field(highKey))
            }
        }
        if let items = reader.value("items") {
            result["items"] = try normalize(items, path: reader.field("items"), depth: depth + 1)
        }
        if var properties = try reader.optionalObject("properties") {
            var normalized: [String: JSONValue] = [:]
            for name in properties.keys.sorted() {
                guard let schema = properties.value(name) else {
                    throw .invalid("expected a schema, got null", field: properties.field(name))
                }
                normalized[name] = try normalize(schema, path: properties.field(name), depth: depth + 1)
            }
            try properties.finish()
            result["properties"] = .object(normalized)
        }
        if let required = try reader.optionalStrings("required") {
            guard Set(required).count == required.count else { throw .invalid("lists a property twice", field: reader.field("required")) }
            result["required"] = .array(required.sorted().map(JSONValue.string))
        }
        if let additional = reader.value("additionalProperties") {
            if case .bool = additional {
                result["additionalProperties"] = additional
            } else {
                result["additionalProperties"] = try normalize(additional, path: reader.field("additionalProperties"), depth: depth + 1)
            }
        }
        do {
            try reader.finish()
        } catch {
            throw .invalid("is not a keyword this gateway checks: use \(keywords.joined(separator: ", "))", field: error.field)
        }
        return .object(result)
    }
}

extension JSONValue {
    /// The value as a number, for integers and doubles alike.
    public var numberValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }
}
