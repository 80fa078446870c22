import Foundation
import GatehouseModel

/// The import's output checked by the model's own admission rules before anything is written:
/// every entity read as the control plane reads it, then the document as a whole (references,
/// one CORS, authentication or validation policy per route, route conflicts). Two operations
/// whose routes would match the same requests are reported as a pair, each with its pointer.
enum ImportAdmission {
    static func check(_ entities: ImportedEntities, externalUpstreams: Set<String>) -> [ImportProblem] {
        var problems = conflicts(entities)
        guard problems.isEmpty else { return problems }
        let document = entities.document()
        var config: ConfigDocument
        do {
            config = try ConfigDocument.read(document)
        } catch {
            return [problem(for: error, in: entities, document: document)]
        }
        // An upstream of another owner that operations name: the config has it, the file does not.
        for name in externalUpstreams.sorted() where !config.upstreams.contains(where: { $0.name == name }) {
            config.upstreams.append(Upstream(header: EntityHeader(id: "", name: name), targets: []))
        }
        // Consumers of other owners that policies name (`anonymous`), likewise.
        for name in Set(config.policies.compactMap { $0.config["anonymous"]?.stringValue }).sorted()
        where !config.consumers.contains(where: { $0.name == name }) {
            config.consumers.append(Consumer(header: EntityHeader(id: "", name: name)))
        }
        var counter = 0
        config.adoptIdentities(from: ConfigDocument()) {
            counter += 1
            return String(format: "00000000-0000-4000-8000-%012x", counter)
        }
        do {
            try config.validate()
        } catch {
            problems.append(problem(for: error, in: entities, document: document))
        }
        return problems
    }

    /// Routes of one method whose paths have one shape (parameter names erased) match the same
    /// requests: each such pair, named by both pointers.
    private static func conflicts(_ entities: ImportedEntities) -> [ImportProblem] {
        var owners: [String: String] = [:]
        var problems: [ImportProblem] = []
        let document = entities.document()
        for route in document["routes"]?.arrayValue ?? [] {
            guard let name = route["name"]?.stringValue, let path = route["paths"]?.arrayValue?.first?.stringValue,
                let method = route["methods"]?.arrayValue?.first?.stringValue, let shape = try? RoutePath(path).shape
            else { continue }
            let key = method + " " + shape
            if let other = owners[key], let first = entities.origin(of: other), let second = entities.origin(of: name) {
                problems.append(
                    ImportProblem(
                        .error, file: second.file, pointer: second.pointer,
                        "matches the same requests as \(first) (\(method) \(shape.dropFirst()), parameter names aside): routes '\(other)' and '\(name)' would conflict"
                    ))
            } else {
                owners[key] = name
            }
        }
        return problems
    }

    /// A model error put on the spec: on the entity its field names (`routes[3].paths[0]`), else
    /// on the first entity its message names, with the others it names listed.
    private static func problem(for error: ConfigError, in entities: ImportedEntities, document: JSONValue) -> ImportProblem {
        var named: [ImportedEntities.Origin] = []
        if let field = error.field, let bracket = field.firstIndex(of: "["), let close = field.firstIndex(of: "]"),
            let index = Int(field[field.index(after: bracket)..<close]),
            case .string(let name)? = document[String(field[..<bracket])]?.arrayValue?[safe: index]?["name"],
            let origin = entities.origin(of: name)
        {
            named.append(origin)
        }
        var rest = Substring(error.message)
        while let open = rest.firstIndex(of: "'"), let close = rest[rest.index(after: open)...].firstIndex(of: "'") {
            if let origin = entities.origin(of: String(rest[rest.index(after: open)..<close])), !named.contains(origin) { named.append(origin) }
            rest = rest[rest.index(after: close)...]
        }
        guard let first = named.first else {
            return ImportProblem(.error, file: "", pointer: .root, "the generated config is refused: \(error)")
        }
        let others = named.dropFirst().map { " (with \($0))" }.joined()
        return ImportProblem(.error, file: first.file, pointer: first.pointer, "\(error.description)\(others)")
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
