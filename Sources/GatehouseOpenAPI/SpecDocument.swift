import GatehouseDeclarative
import GatehouseModel

/// One OpenAPI (3.0, 3.1, 3.2) or Swagger 2.0 document, parsed, with its local `$ref`s
/// resolved on demand: only what the import reads is followed, so a cycle among schemas it never
/// looks at costs nothing and is no error. Immutable.
struct SpecDocument: Sendable {
    enum Flavor: Sendable, Equatable {
        case swagger2
        case openAPI3(minor: Int)
    }

    let file: String
    let root: JSONValue
    let flavor: Flavor

    /// The document at `file` (as the user named it), from its text: JSON when it starts with
    /// `{`, YAML otherwise (JSON is YAML too, but the JSON parser is faster and stricter).
    static func parse(_ bytes: [UInt8], file: String) throws(OpenAPIImportFailure) -> SpecDocument {
        let root = try parseValue(bytes, file: file)
        func fail(_ message: String, _ pointer: JSONPointer = .root) -> OpenAPIImportFailure {
            OpenAPIImportFailure([ImportProblem(.error, file: file, pointer: pointer, message)])
        }
        guard case .object(let fields) = root else { throw fail("is not an OpenAPI document: expected an object at the top") }
        let flavor: Flavor
        if let swagger = fields["swagger"] {
            // `swagger: 2.0` unquoted is a number in YAML.
            guard swagger == .string("2.0") || swagger == .double(2.0) || swagger == .int(2) else {
                throw fail(
                    "Swagger version \(describe(swagger)) is not supported; this import reads 2.0 and OpenAPI 3.0 to 3.2",
                    JSONPointer(tokens: ["swagger"]))
            }
            flavor = .swagger2
        } else if case .string(let version)? = fields["openapi"] {
            let parts = version.split(separator: ".")
            guard parts.count >= 2, parts[0] == "3", let minor = Int(parts[1]), (0...2).contains(minor) else {
                throw fail(
                    "OpenAPI version '\(version)' is not supported; this import reads 2.0 and OpenAPI 3.0 to 3.2", JSONPointer(tokens: ["openapi"]))
            }
            flavor = .openAPI3(minor: minor)
        } else {
            throw fail("is not an OpenAPI document: it has neither `openapi: 3.x` nor `swagger: \"2.0\"`")
        }
        return SpecDocument(file: file, root: root, flavor: flavor)
    }

    /// JSON or YAML text as a value; syntax errors name their line and column.
    static func parseValue(_ bytes: [UInt8], file: String) throws(OpenAPIImportFailure) -> JSONValue {
        let first = bytes.first { ![UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t")].contains($0) }
        if first == UInt8(ascii: "{") {
            do {
                return try JSONValue.parse(bytes)
            } catch {
                throw OpenAPIImportFailure([ImportProblem(.error, file: file, pointer: .root, "not valid JSON: \(error.message)")])
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw OpenAPIImportFailure([ImportProblem(.error, file: file, pointer: .root, "is not UTF-8 text")])
        }
        do {
            return try YAMLDocument.value(of: text, file: file)
        } catch {
            let place = [error.line, error.column].compactMap { $0.map(String.init) }.joined(separator: ":")
            throw OpenAPIImportFailure([ImportProblem(.error, file: file, pointer: .root, (place.isEmpty ? "" : "line \(place): ") + error.message)])
        }
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): "'\(text)'"
        case .int(let int): String(int)
        case .double(let double): String(double)
        default: value.typeName
        }
    }

    func value(at pointer: JSONPointer) -> JSONValue? { pointer.resolve(in: root) }

    func problem(_ pointer: JSONPointer, _ message: String, _ severity: ImportProblem.Severity = .error) -> ImportProblem {
        ImportProblem(severity, file: file, pointer: pointer, message)
    }

    /// `value` (found at `pointer`) with its `$ref` chain followed: the object it stands for and
    /// where that is. Only local references are read; another file or a URL is an error, as is
    /// a reference that names nothing or a chain that comes back on itself.
    func resolved(_ value: JSONValue, at pointer: JSONPointer) throws(ImportProblem) -> (value: JSONValue, pointer: JSONPointer) {
        var value = value
        var pointer = pointer
        var seen: Set<JSONPointer> = []
        while case .string(let reference)? = value["$ref"] {
            let at = pointer.appending("$ref")
            guard let target = JSONPointer(reference: reference) else {
                throw problem(
                    at, "'\(reference)' is not a local reference; bundle the spec into one file first (e.g. `redocly bundle`)")
            }
            guard seen.insert(target).inserted else { throw problem(at, "'\(reference)' is part of a $ref cycle") }
            guard let found = self.value(at: target) else { throw problem(at, "'\(reference)' names nothing in this document") }
            value = found
            pointer = target
        }
        return (value, pointer)
    }
}
