import GatehouseModel
import Yams

/// A YAML text as `JSONValue`, with the line of each top-level key and of each item of the
/// top-level lists (`routes[3]`), for messages.
public enum YAMLDocument {
    static func read(_ text: String, file: String) throws(DeclarativeSource.Problem) -> (value: JSONValue, lines: [String: Int]) {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw DeclarativeSource.Problem(file: file, line: Self.line(of: error), message: "not valid YAML: \(error)")
        } catch {
            throw DeclarativeSource.Problem(file: file, message: "not valid YAML: \(error)")
        }
        guard let node else { throw DeclarativeSource.Problem(file: file, message: "is empty") }
        var lines: [String: Int] = [:]
        if case .mapping(let mapping) = node {
            for (key, value) in mapping {
                lines[key.string ?? ""] = key.mark?.line
                if case .sequence(let items) = value {
                    for (index, item) in items.enumerated() { lines["\(key.string ?? "")[\(index)]"] = item.mark?.line }
                }
            }
        }
        return (try json(node, file: file), lines)
    }

    private static func json(_ node: Node, file: String) throws(DeclarativeSource.Problem) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            // Quoted scalars are strings; plain ones follow YAML 1.2's core schema.
            guard scalar.style == .plain else { return .string(scalar.string) }
            let text = scalar.string
            switch text {
            case "", "~", "null", "Null", "NULL": return .null
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            default:
                if let int = Int(text) { return .int(int) }
                if text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let double = Double(text), double.isFinite {
                    return .double(double)
                }
                return .string(text)
            }
        case .mapping(let mapping):
            var fields: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard case .scalar(let name) = key else {
                    throw DeclarativeSource.Problem(file: file, line: key.mark?.line, message: "a mapping key must be a plain string")
                }
                guard fields.updateValue(try json(value, file: file), forKey: name.string) == nil else {
                    throw DeclarativeSource.Problem(file: file, line: key.mark?.line, message: "the key '\(name.string)' is given twice")
                }
            }
            return .object(fields)
        case .sequence(let items):
            var values: [JSONValue] = []
            for item in items { values.append(try json(item, file: file)) }
            return .array(values)
        case .alias:
            throw DeclarativeSource.Problem(file: file, line: node.mark?.line, message: "YAML aliases are not supported")
        }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    /// YAML text for a document: keys sorted, strings quoted (so `"8080"`, `"true"` or `"=/x"`
    /// read back as strings), lists of plain values inline.
    public static func write(_ value: JSONValue) throws -> String {
        try Yams.serialize(node: node(value), indent: 2, width: -1, sortKeys: true)
    }

    private static func node(_ value: JSONValue) -> Node {
        switch value {
        case .null: return Node("null", .implicit, .plain)
        case .bool(let bool): return Node(bool ? "true" : "false", .implicit, .plain)
        case .int(let int): return Node(String(int), .implicit, .plain)
        case .double(let double): return Node(String(double), .implicit, .plain)
        case .string(let string): return Node(string, .implicit, .doubleQuoted)
        case .array(let items):
            let flow = items.allSatisfy { if case .object = $0 { return false } else if case .array = $0 { return false } else { return true } }
            return Node(items.map(node), .implicit, flow ? .flow : .block)
        case .object(let fields):
            return Node(fields.keys.sorted().map { (Node($0, .implicit, .plain), node(fields[$0]!)) }, .implicit, .block)
        }
    }
}
