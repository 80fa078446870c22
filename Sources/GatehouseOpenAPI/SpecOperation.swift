import GatehouseModel

/// One operation of a spec, with what the import needs of it gathered from its path item and
/// its references: where it is, its name sources, its header parameters, its body's media
/// types, its security requirement and its `x-gatehouse` layers.
struct SpecOperation: Sendable {
    /// Uppercase (`GET`, and 3.2's `QUERY` or any `additionalOperations` method).
    var method: String
    /// As the spec writes it (`/pets/{petId}`).
    var path: String
    var pointer: JSONPointer
    var pathPointer: JSONPointer
    var operationID: String?
    var tags: [String]
    /// Lowercase names of the header parameters of the operation and its path item.
    var headerParameters: Set<String>
    /// Media types the request body may have.
    var bodyMediaTypes: Set<String>
    /// The security requirements that apply (the operation's or the document's), and where
    /// they are written; nil when none is declared.
    var security: (value: JSONValue, pointer: JSONPointer)?
    /// The servers the operation or its path item declares, and where; nil for the document's.
    var servers: (value: JSONValue, pointer: JSONPointer)?
    var pathExtension: GatehouseExtension
    var operationExtension: GatehouseExtension

    static let fixedMethods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// Every operation of `spec`, in the order of its paths and methods, and the problems met.
    static func collect(_ spec: SpecDocument) -> ([SpecOperation], [ImportProblem]) {
        var operations: [SpecOperation] = []
        var problems: [ImportProblem] = []
        let pathsPointer = JSONPointer(tokens: ["paths"])
        guard let paths = spec.root["paths"] else { return ([], []) }
        guard case .object(let items) = paths else { return ([], [spec.problem(pathsPointer, "expected an object of paths")]) }
        let documentSecurity = spec.root["security"].map { ($0, JSONPointer(tokens: ["security"])) }
        for path in items.keys.sorted() where !path.hasPrefix("x-") {
            let pathPointer = pathsPointer.appending(path)
            guard path.hasPrefix("/") else {
                problems.append(spec.problem(pathPointer, "a path must start with '/'"))
                continue
            }
            let item: (value: JSONValue, pointer: JSONPointer)
            do {
                item = try spec.resolved(items[path]!, at: pathPointer)
            } catch {
                problems.append(error)
                continue
            }
            guard case .object(let fields) = item.value else {
                problems.append(spec.problem(item.pointer, "expected a path item object"))
                continue
            }
            let (pathExtension, extensionProblems) =
                fields["x-gatehouse"].map {
                    GatehouseExtension.read($0, file: spec.file, at: item.pointer.appending("x-gatehouse"), level: .pathItem)
                }
                ?? (GatehouseExtension(), [])
            problems += extensionProblems
            var pathHeaders: Set<String> = []
            problems += headerParameters(fields["parameters"], at: item.pointer.appending("parameters"), in: spec, into: &pathHeaders)
            let pathServers = nonEmpty(fields["servers"]).map { ($0, item.pointer.appending("servers")) }

            var methods: [(String, JSONValue, JSONPointer)] = []
            for method in fixedMethods + (spec.flavor == .openAPI3(minor: 2) ? ["query"] : []) {
                if let operation = fields[method] { methods.append((method.uppercased(), operation, item.pointer.appending(method))) }
            }
            if spec.flavor == .openAPI3(minor: 2), case .object(let additional)? = fields["additionalOperations"] {
                for method in additional.keys.sorted() {
                    let at = item.pointer.appending("additionalOperations").appending(method)
                    guard EntityName.isToken(method) else {
                        problems.append(spec.problem(at, "'\(method)' is not an HTTP method"))
                        continue
                    }
                    methods.append((method.uppercased(), additional[method]!, at))
                }
            }
            for (method, value, pointer) in methods {
                guard case .object(let operation) = value else {
                    problems.append(spec.problem(pointer, "expected an operation object"))
                    continue
                }
                let (operationExtension, operationProblems) =
                    operation["x-gatehouse"].map {
                        GatehouseExtension.read($0, file: spec.file, at: pointer.appending("x-gatehouse"), level: .operation)
                    }
                    ?? (GatehouseExtension(), [])
                problems += operationProblems
                var headers = pathHeaders
                problems += headerParameters(operation["parameters"], at: pointer.appending("parameters"), in: spec, into: &headers)
                var mediaTypes: Set<String> = []
                problems += bodyMediaTypes(operation, at: pointer, in: spec, into: &mediaTypes)
                let operationID: String?
                switch operation["operationId"] {
                case .string(let id)?: operationID = id
                case nil: operationID = nil
                case let other?:
                    problems.append(spec.problem(pointer.appending("operationId"), "expected a string, got \(other.typeName)"))
                    operationID = nil
                }
                operations.append(
                    SpecOperation(
                        method: method, path: path, pointer: pointer, pathPointer: pathPointer, operationID: operationID,
                        tags: (operation["tags"]?.arrayValue ?? []).compactMap(\.stringValue), headerParameters: headers,
                        bodyMediaTypes: mediaTypes,
                        security: operation["security"].map { ($0, pointer.appending("security")) } ?? documentSecurity,
                        servers: nonEmpty(operation["servers"]).map { ($0, pointer.appending("servers")) } ?? pathServers,
                        pathExtension: pathExtension, operationExtension: operationExtension))
            }
        }
        return (operations, problems)
    }

    private static func nonEmpty(_ value: JSONValue?) -> JSONValue? {
        if case .array(let items)? = value, !items.isEmpty { return value }
        return nil
    }

    /// Adds the names of the header parameters in `list` (each maybe a `$ref`) to `names`.
    private static func headerParameters(
        _ list: JSONValue?, at pointer: JSONPointer, in spec: SpecDocument, into names: inout Set<String>
    ) -> [ImportProblem] {
        guard let list else { return [] }
        guard case .array(let items) = list else { return [spec.problem(pointer, "expected a list of parameters")] }
        var problems: [ImportProblem] = []
        for (index, item) in items.enumerated() {
            do {
                let parameter = try spec.resolved(item, at: pointer.appending(index))
                guard parameter.value["in"] == .string("header") else { continue }
                guard case .string(let name)? = parameter.value["name"], EntityName.isToken(name) else {
                    problems.append(spec.problem(parameter.pointer.appending("name"), "a header parameter needs a header name"))
                    continue
                }
                names.insert(name.lowercased())
            } catch {
                problems.append(error)
            }
        }
        return problems
    }

    /// The media types of the operation's request body: 3.x `requestBody.content`, or 2.0's
    /// `consumes` (the operation's, else the document's) when it takes a body or form fields.
    private static func bodyMediaTypes(
        _ operation: [String: JSONValue], at pointer: JSONPointer, in spec: SpecDocument, into types: inout Set<String>
    ) -> [ImportProblem] {
        if spec.flavor == .swagger2 {
            var takesBody = false
            for item in operation["parameters"]?.arrayValue ?? [] {
                guard let parameter = try? spec.resolved(item, at: pointer) else { continue }
                if parameter.value["in"] == .string("body") || parameter.value["in"] == .string("formData") { takesBody = true }
            }
            guard takesBody else { return [] }
            let consumes = operation["consumes"] ?? spec.root["consumes"] ?? ["application/json"]
            types.formUnion((consumes.arrayValue ?? []).compactMap { $0.stringValue?.lowercased() })
            return []
        }
        guard let body = operation["requestBody"] else { return [] }
        do {
            let resolved = try spec.resolved(body, at: pointer.appending("requestBody"))
            types.formUnion((resolved.value["content"]?.objectValue ?? [:]).keys.map { $0.lowercased() })
            return []
        } catch {
            return [error]
        }
    }
}
