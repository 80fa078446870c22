import GatehouseModel

/// One schema of a `request-validation` policy, compiled with the snapshot: the keywords turned
/// into fields once, so checking a value is comparisons and lookups. Immutable, shared by every
/// event loop. Keywords apply to values of their type only, as in JSON Schema (`minLength`
/// says nothing about a number).
final class ValueSchema: Sendable {
    struct Types: OptionSet, Sendable {
        let rawValue: UInt8
        static let string = Types(rawValue: 1)
        static let integer = Types(rawValue: 2)
        static let number = Types(rawValue: 4)
        static let boolean = Types(rawValue: 8)
        static let array = Types(rawValue: 16)
        static let object = Types(rawValue: 32)
        static let null = Types(rawValue: 64)

        init(rawValue: UInt8) { self.rawValue = rawValue }

        init(names: [String]) {
            var types: Types = []
            for name in names {
                switch name {
                case "string": types.insert(.string)
                case "integer": types.insert(.integer)
                case "number": types.insert(.number)
                case "boolean": types.insert(.boolean)
                case "array": types.insert(.array)
                case "object": types.insert(.object)
                default: types.insert(.null)
                }
            }
            self = types
        }

        var names: String {
            let all: [(Types, String)] = [
                (.string, "a string"), (.integer, "an integer"), (.number, "a number"), (.boolean, "a boolean"), (.array, "an array"),
                (.object, "an object"), (.null, "null"),
            ]
            return all.filter { contains($0.0) }.map(\.1).joined(separator: " or ")
        }
    }

    enum Additional: Sendable {
        case allowed
        case refused
        case schema(ValueSchema)
    }

    /// What is wrong and where: the JSON pointer's tokens, innermost first (built only on the
    /// way out of a failed check, so a valid value costs no allocation for it).
    struct Violation: Error, Equatable {
        var reversedTokens: [String] = []
        let message: String

        var pointer: String {
            reversedTokens.reversed().map { "/" + $0.replacing("~", with: "~0").replacing("/", with: "~1") }.joined()
        }
    }

    /// Empty: any type.
    let types: Types
    let enumValues: [JSONValue]?
    /// Not `Sendable` only because its output type is not: it is never changed after `init`,
    /// which also runs it once so the library's lazily built program exists before any event
    /// loop shares it.
    nonisolated(unsafe) let pattern: Regex<AnyRegexOutput>?
    /// The pattern matched without `Regex` where its form allows (most do).
    let simplePattern: SimplePattern?
    let patternText: String
    let minLength: Int?
    let maxLength: Int?
    let minimum: Double?
    let maximum: Double?
    let exclusiveMinimum: Double?
    let exclusiveMaximum: Double?
    let items: ValueSchema?
    let minItems: Int?
    let maxItems: Int?
    let properties: [String: ValueSchema]
    let required: [String]
    let additional: Additional

    /// From a config `ValueSchemaRules` admitted; throws what it cannot build.
    init(_ config: JSONValue) throws(ConfigError) {
        var types = Types(names: (config["type"]?.arrayValue ?? []).compactMap(\.stringValue))
        if config["nullable"]?.boolValue == true, !types.isEmpty { types.insert(.null) }
        self.types = types
        enumValues = config["enum"]?.arrayValue
        patternText = config["pattern"]?.stringValue ?? ""
        simplePattern = config["pattern"]?.stringValue.flatMap(SimplePattern.init)
        if let text = config["pattern"]?.stringValue {
            do {
                let regex = try Regex(text)
                _ = try? regex.firstMatch(in: "")
                pattern = regex
            } catch {
                throw .invalid("'\(text)' is not a regular expression", field: "pattern")
            }
        } else {
            pattern = nil
        }
        minLength = config["minLength"]?.intValue
        maxLength = config["maxLength"]?.intValue
        minimum = config["minimum"]?.numberValue
        maximum = config["maximum"]?.numberValue
        exclusiveMinimum = config["exclusiveMinimum"]?.numberValue
        exclusiveMaximum = config["exclusiveMaximum"]?.numberValue
        items = try config["items"].map { value throws(ConfigError) in try ValueSchema(value) }
        minItems = config["minItems"]?.intValue
        maxItems = config["maxItems"]?.intValue
        var properties: [String: ValueSchema] = [:]
        for (name, schema) in config["properties"]?.objectValue ?? [:] { properties[name] = try ValueSchema(schema) }
        self.properties = properties
        required = (config["required"]?.arrayValue ?? []).compactMap(\.stringValue)
        switch config["additionalProperties"] {
        case .bool(false)?: additional = .refused
        case .object(let fields)? where !fields.isEmpty: additional = .schema(try ValueSchema(.object(fields)))
        default: additional = .allowed
        }
    }

    /// Whether `value` is one of the schema's types (integral numbers are integers).
    private func admitsType(_ value: JSONValue) -> Bool {
        if types.isEmpty { return true }
        switch value {
        case .null: return types.contains(.null)
        case .bool: return types.contains(.boolean)
        case .string: return types.contains(.string)
        case .array: return types.contains(.array)
        case .object: return types.contains(.object)
        case .int: return types.contains(.integer) || types.contains(.number)
        case .double(let number): return types.contains(.number) || (types.contains(.integer) && number.rounded() == number)
        }
    }

    func check(_ value: JSONValue) throws(Violation) {
        guard admitsType(value) else { throw Violation(message: "must be \(types.names), got \(value.typeName)") }
        if let enumValues, !enumValues.contains(where: { Self.same($0, value) }) {
            throw Violation(message: "must be one of \(enumValues.map(\.shortText).joined(separator: ", "))")
        }
        switch value {
        case .string(let text): try checkString(text)
        case .int, .double: try checkNumber(value.numberValue ?? 0)
        case .array(let elements):
            if let minItems, elements.count < minItems { throw Violation(message: "must have at least \(minItems) items") }
            if let maxItems, elements.count > maxItems { throw Violation(message: "must have at most \(maxItems) items") }
            guard let items else { return }
            for (index, element) in elements.enumerated() {
                do {
                    try items.check(element)
                } catch {
                    throw error.inside(String(index))
                }
            }
        case .object(let fields):
            for name in required where fields[name] == nil {
                throw Violation(reversedTokens: [name], message: "is required")
            }
            for (name, field) in fields {
                let schema: ValueSchema
                if let declared = properties[name] {
                    schema = declared
                } else {
                    switch additional {
                    case .allowed: continue
                    case .refused: throw Violation(reversedTokens: [name], message: "is not a property this object may have")
                    case .schema(let extra): schema = extra
                    }
                }
                do {
                    try schema.check(field)
                } catch {
                    throw error.inside(name)
                }
            }
        case .null, .bool: return
        }
    }

    private func checkString(_ text: String) throws(Violation) {
        if minLength != nil || maxLength != nil {
            // JSON Schema counts characters as code points.
            let length = text.unicodeScalars.count
            if let minLength, length < minLength { throw Violation(message: "must be at least \(minLength) characters long") }
            if let maxLength, length > maxLength { throw Violation(message: "must be at most \(maxLength) characters long") }
        }
        // Unanchored, as JSON Schema's `pattern` is.
        if let simplePattern {
            if !simplePattern.matches(text) { throw Violation(message: "must match the pattern \(patternText)") }
        } else if let pattern, (try? pattern.firstMatch(in: text)) == nil {
            throw Violation(message: "must match the pattern \(patternText)")
        }
    }

    private func checkNumber(_ number: Double) throws(Violation) {
        if let minimum, number < minimum { throw Violation(message: "must be at least \(Self.text(minimum))") }
        if let maximum, number > maximum { throw Violation(message: "must be at most \(Self.text(maximum))") }
        if let exclusiveMinimum, number <= exclusiveMinimum { throw Violation(message: "must be greater than \(Self.text(exclusiveMinimum))") }
        if let exclusiveMaximum, number >= exclusiveMaximum { throw Violation(message: "must be less than \(Self.text(exclusiveMaximum))") }
    }

    /// Equality as JSON Schema has it: 1 and 1.0 are the same number.
    private static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = a.numberValue, let y = b.numberValue { return x == y }
        return a == b
    }

    private static func text(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int(number)) : String(number)
    }
}

extension ValueSchema.Violation {
    /// The violation one level further out, inside `token`.
    func inside(_ token: String) -> Self {
        var outer = self
        outer.reversedTokens.append(token)
        return outer
    }
}

extension JSONValue {
    /// The value as short JSON text, for messages.
    var shortText: String {
        switch self {
        case .string(let text): "\"\(text)\""
        case .int(let number): String(number)
        case .double(let number): String(number)
        case .bool(let value): String(value)
        case .null: "null"
        case .array: "[…]"
        case .object: "{…}"
        }
    }
}
