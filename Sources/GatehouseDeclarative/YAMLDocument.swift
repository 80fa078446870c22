import GatehouseModel
import Yams

/// A YAML text as `JSONValue`, with the line of each top-level key and of each item of the
/// top-level lists (`routes[3]`), for messages. `YAMLGuard` passes over the text first, so no
/// anchor, alias or deep nesting reaches Yams; `${GATEHOUSE_…}` is substituted in each string
/// value as it is converted.
public enum YAMLDocument {
    typealias Problem = DeclarativeSource.Problem

    static func read(
        _ text: String, file: String, substitution: inout VariableSubstitution
    ) throws(DeclarativeSource.Problem) -> (value: JSONValue, lines: [String: Int]) {
        if let refusal = YAMLGuard.check(text) {
            throw Problem(file: file, line: refusal.line, column: refusal.column, message: refusal.message)
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw problem(error, file: file)
        } catch {
            throw Problem(file: file, message: "not valid YAML")
        }
        guard let node else { throw Problem(file: file, message: "is empty") }
        var lines: [String: Int] = [:]
        if case .mapping(let mapping) = node {
            for (key, value) in mapping {
                lines[key.string ?? ""] = key.mark?.line
                if case .sequence(let items) = value {
                    for (index, item) in items.enumerated() { lines["\(key.string ?? "")[\(index)]"] = item.mark?.line }
                }
            }
        }
        return (try json(node, file: file, substitution: &substitution), lines)
    }

    /// Any YAML document (an OpenAPI spec, say) as `JSONValue`, read with the same guards as
    /// config files (no anchors or aliases, nesting bounded) and the same scalar rules, but with
    /// no variable substituted: the text is not config.
    public static func value(of text: String, file: String) throws(DeclarativeSource.Problem) -> JSONValue {
        var substitution = VariableSubstitution(environment: [:], enabled: false)
        return try read(text, file: file, substitution: &substitution).value
    }

    private static func json(_ node: Node, file: String, substitution: inout VariableSubstitution) throws(Problem) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            var text = scalar.string
            var plain = scalar.style == .plain
            do {
                if let substituted = try substitution.apply(text) {
                    // A value is one string, unless a plain scalar is one variable and nothing
                    // else: then it reads as the scalar it spells (`weight: ${GATEHOUSE_W}`).
                    plain = plain && VariableSubstitution.isWhole(text)
                    text = substituted
                }
            } catch {
                throw Problem(
                    file: file, line: scalar.mark?.line, column: scalar.mark?.column, message: "${\(error.name)} is not set in the environment")
            }
            // Quoted scalars are strings; plain ones follow YAML 1.2's core schema.
            guard plain else { return .string(text) }
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
                // Keys are names, taken as written: no variable is substituted in them.
                guard case .scalar(let name) = key else {
                    throw Problem(file: file, line: key.mark?.line, column: key.mark?.column, message: "a mapping key must be a plain string")
                }
                guard fields.updateValue(try json(value, file: file, substitution: &substitution), forKey: name.string) == nil else {
                    throw Problem(
                        file: file, line: key.mark?.line, column: key.mark?.column,
                        message: "the key '\(Redaction.capped(name.string))' is given twice")
                }
            }
            return .object(fields)
        case .sequence(let items):
            var values: [JSONValue] = []
            for item in items { values.append(try json(item, file: file, substitution: &substitution)) }
            return .array(values)
        case .alias:
            // YAMLGuard refuses aliases before composing; Yams resolves them anyway.
            throw Problem(file: file, line: node.mark?.line, column: node.mark?.column, message: "YAML aliases are not supported")
        }
    }

    /// A Yams error as a problem: its place and what went wrong, never the text around it
    /// (Yams's description quotes the document, secrets and all).
    private static func problem(_ error: YamlError, file: String) -> Problem {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let reason = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return Problem(file: file, line: mark.line, column: mark.column, message: "not valid YAML: \(reason)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\(Redaction.capped($0))'" }.joined(separator: ", ")
            let given = duplicates.count == 1 ? "the key \(keys) is" : "the keys \(keys) are"
            return Problem(file: file, line: context.mark.line, column: context.mark.column, message: "\(given) given twice")
        case .reader(let problem, _, _, _):
            return Problem(file: file, message: "not valid YAML: \(problem)")
        default:
            return Problem(file: file, message: "not valid YAML")
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
