/// Reads one JSON object field by field and reports, by dotted path, every missing field, wrong
/// type and unknown field. `finish()` must be called once all known fields were read.
public struct FieldReader {
    private let fields: [String: JSONValue]
    /// The fields read so far that the object has. An array: objects have a dozen fields, and a
    /// set would hash every name again.
    private var seen: [String] = []
    public let path: String

    public init(_ value: JSONValue, path: String = "") throws(ConfigError) {
        guard case .object(let fields) = value else {
            throw .invalid("expected an object, got \(value.typeName)", field: path.isEmpty ? nil : path)
        }
        self.fields = fields
        self.path = path
    }

    public func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public var keys: Dictionary<String, JSONValue>.Keys { fields.keys }

    /// The raw value, or nil when absent or `null`.
    public mutating func value(_ key: String) -> JSONValue? {
        guard let value = fields[key] else { return nil }
        if !seen.contains(key) { seen.append(key) }
        return value == .null ? nil : value
    }

    /// Whether `key` is given as JSON `null` (which `value` reads as absent); counts as read.
    public mutating func isNull(_ key: String) -> Bool {
        guard fields[key] == .null else { return false }
        if !seen.contains(key) { seen.append(key) }
        return true
    }

    public mutating func optionalString(_ key: String) throws(ConfigError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let string) = value else { throw wrongType(key, "a string", value) }
        return string
    }

    public mutating func string(_ key: String) throws(ConfigError) -> String {
        guard let string = try optionalString(key) else { throw missing(key) }
        return string
    }

    public mutating func optionalBool(_ key: String) throws(ConfigError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let bool) = value else { throw wrongType(key, "a boolean", value) }
        return bool
    }

    public mutating func optionalInt(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let value = value(key) else { return nil }
        let int: Int
        switch value {
        case .int(let whole): int = whole
        // JSON has one kind of number: 64.0 is the integer 64 (as JSON Schema's `integer` has it).
        case .double(let number) where number.rounded() == number && abs(number) <= 9_007_199_254_740_992: int = Int(number)
        default: throw wrongType(key, "an integer", value)
        }
        guard range.contains(int) else {
            throw .invalid("must be between \(range.lowerBound) and \(range.upperBound), got \(int)", field: field(key))
        }
        return int
    }

    public mutating func optionalStrings(_ key: String) throws(ConfigError) -> [String]? {
        guard let value = value(key) else { return nil }
        guard case .array(let items) = value else { throw wrongType(key, "a list of strings", value) }
        var strings: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let string) = item else {
                throw .invalid("expected a string, got \(item.typeName)", field: "\(field(key))[\(index)]")
            }
            strings.append(string)
        }
        return strings
    }

    public mutating func optionalDuration(_ key: String) throws(ConfigError) -> Duration? {
        guard let text = try optionalString(key) else { return nil }
        guard let duration = Duration(configText: text) else {
            throw .invalid("'\(text)' is not a duration: use a number with a unit (250ms, 10s, 1m, 1h, 1d)", field: field(key))
        }
        return duration
    }

    public mutating func optionalObject(_ key: String) throws(ConfigError) -> FieldReader? {
        guard let value = value(key) else { return nil }
        return try FieldReader(value, path: field(key))
    }

    public mutating func optionalArray(_ key: String) throws(ConfigError) -> [JSONValue]? {
        guard let value = value(key) else { return nil }
        guard case .array(let items) = value else { throw wrongType(key, "a list", value) }
        return items
    }

    /// Throws for the first field (in sorted order) that no reader asked for.
    public func finish() throws(ConfigError) {
        if seen.count < fields.count, let unknown = fields.keys.filter({ !seen.contains($0) }).sorted().first {
            throw .invalid("unknown field", field: field(unknown))
        }
    }

    public func missing(_ key: String) -> ConfigError {
        .invalid("is required", field: field(key))
    }

    private func wrongType(_ key: String, _ expected: String, _ value: JSONValue) -> ConfigError {
        .invalid("expected \(expected), got \(value.typeName)", field: field(key))
    }
}
