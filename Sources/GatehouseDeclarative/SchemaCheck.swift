import Foundation
import GatehouseModel

/// Checks a value against the subset of JSON Schema (2020-12) that `DeclarativeSchema` uses:
/// `type`, `const`, `enum`, `required`, `properties`, `additionalProperties`, `items`,
/// `minimum`, `maximum`, `pattern` and local `$ref`s. Returns every violation with its path; a
/// message quotes a value only when it fails a pattern, cut short (`Redaction.capped`).
struct SchemaCheck {
    struct Violation: Equatable {
        var path: String
        var message: String
    }

    let root: JSONValue
    private var patterns: [String: NSRegularExpression] = [:]

    init(root: JSONValue) {
        self.root = root
    }

    mutating func check(_ value: JSONValue, path: String = "") -> [Violation] {
        check(value, against: root, path: path)
    }

    private mutating func check(_ value: JSONValue, against schema: JSONValue, path: String) -> [Violation] {
        if let reference = schema["$ref"]?.stringValue {
            return check(value, against: resolve(reference), path: path)
        }
        if let constant = schema["const"], value != constant {
            return [Violation(path: path, message: "must be \(constant.canonicalString)")]
        }
        if let options = schema["enum"]?.arrayValue, !options.contains(value) {
            return [Violation(path: path, message: "must be one of \(options.map(\.canonicalString).joined(separator: ", "))")]
        }
        if let types = schema["type"].map({ $0.arrayValue ?? [$0] })?.compactMap(\.stringValue), !types.contains(where: { Self.has(value, type: $0) })
        {
            return [Violation(path: path, message: "expected \(types.joined(separator: " or ")), got \(value.typeName)")]
        }
        var violations: [Violation] = []
        switch value {
        case .object(let fields):
            for name in (schema["required"]?.arrayValue ?? []).compactMap(\.stringValue) where fields[name] == nil {
                violations.append(Violation(path: Self.join(path, name), message: "is required"))
            }
            let properties = schema["properties"]?.objectValue ?? [:]
            for name in fields.keys.sorted() {
                if let property = properties[name] {
                    violations += check(fields[name]!, against: property, path: Self.join(path, name))
                } else if let additional = schema["additionalProperties"] {
                    if additional == .bool(false) {
                        violations.append(Violation(path: Self.join(path, name), message: "unknown field"))
                    } else if case .object = additional {
                        violations += check(fields[name]!, against: additional, path: Self.join(path, name))
                    }
                }
            }
        case .array(let items):
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() { violations += check(item, against: itemSchema, path: "\(path)[\(index)]") }
            }
        case .int, .double:
            let number: Double = if case .int(let int) = value { Double(int) } else if case .double(let double) = value { double } else { 0 }
            if let minimum = schema["minimum"].flatMap(Self.number), number < minimum {
                violations.append(Violation(path: path, message: "must be at least \(Self.text(minimum))"))
            }
            if let maximum = schema["maximum"].flatMap(Self.number), number > maximum {
                violations.append(Violation(path: path, message: "must be at most \(Self.text(maximum))"))
            }
        case .string(let string):
            if let pattern = schema["pattern"]?.stringValue, !matches(string, pattern) {
                violations.append(Violation(path: path, message: "'\(Redaction.capped(string))' does not match \(pattern)"))
            }
        default:
            break
        }
        return violations
    }

    private func resolve(_ reference: String) -> JSONValue {
        // Local references only: `#/$defs/name`.
        reference.dropFirst(2).split(separator: "/").reduce(root) { node, key in node[String(key)] ?? .null }
    }

    private mutating func matches(_ string: String, _ pattern: String) -> Bool {
        if patterns[pattern] == nil { patterns[pattern] = try? NSRegularExpression(pattern: pattern) }
        guard let expression = patterns[pattern] else { return true }
        return expression.firstMatch(in: string, range: NSRange(string.startIndex..., in: string)) != nil
    }

    private static func has(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("integer", .int), ("number", .int), ("number", .double), ("string", .string),
            ("array", .array), ("object", .object):
            true
        default: false
        }
    }

    private static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .int(let int): Double(int)
        case .double(let double): double
        default: nil
        }
    }

    private static func text(_ number: Double) -> String { number == number.rounded() ? String(Int(number)) : String(number) }

    private static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}
