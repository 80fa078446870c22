import GatehouseModel

/// The `request-validation` config of one operation: its path, query and header parameters and
/// its JSON request body, with their schemas cut down to what the gateway checks. Whatever the
/// gateway cannot check (`allOf`/`oneOf`/`anyOf`/`not`, a serialization it does not read, a
/// pattern its regex engine refuses) is left unchecked — a valid request is never refused — and
/// each such place is a warning with its pointer.
struct DerivedValidation {
    let spec: SpecDocument
    private(set) var warnings: [ImportProblem] = []
    /// References being expanded, innermost last: a schema that refers back to itself stops there.
    private var expanding: [JSONPointer] = []
    private static let maxDepth = 16
    /// OpenAPI says header parameters of these names are ignored: HTTP itself defines them.
    private static let ignoredHeaders: Set<String> = ["accept", "content-type", "authorization"]

    init(spec: SpecDocument) {
        self.spec = spec
    }

    /// The config for `operation`, or nil when it has nothing to check. `routeParameters` maps
    /// the spec's path parameter names to the route's (`pet-id` → `pet_id`).
    mutating func config(for operation: SpecOperation, routeParameters: [String: String]) -> JSONValue? {
        var declared: [String: (value: JSONValue, pointer: JSONPointer)] = [:]
        var order: [String] = []
        var body: JSONValue = .null
        let lists: [(JSONValue?, JSONPointer)] = [
            (pathItem(operation)?.value["parameters"], pathItem(operation)?.pointer.appending("parameters") ?? operation.pathPointer),
            (spec.value(at: operation.pointer)?["parameters"], operation.pointer.appending("parameters")),
        ]
        // The operation's parameters replace the path item's of the same name and location.
        for (list, pointer) in lists {
            for (index, item) in (list?.arrayValue ?? []).enumerated() {
                guard let parameter = try? spec.resolved(item, at: pointer.appending(index)),
                    let name = parameter.value["name"]?.stringValue, let location = parameter.value["in"]?.stringValue
                else { continue }
                if location == "body" {
                    body = swaggerBody(parameter, operation: operation)
                    continue
                }
                let key = "\(location) \(location == "header" ? name.lowercased() : name)"
                if declared[key] == nil { order.append(key) }
                declared[key] = parameter
            }
        }
        var parameters: [JSONValue] = []
        for key in order {
            if let derived = self.parameter(declared[key]!, routeParameters: routeParameters) { parameters.append(derived) }
        }
        if spec.flavor != .swagger2, let requestBody = spec.value(at: operation.pointer)?["requestBody"] {
            body = openAPIBody(requestBody, at: operation.pointer.appending("requestBody"))
        }
        if parameters.isEmpty, body == .null { return nil }
        return ["parameters": .array(parameters), "body": body]
    }

    private func pathItem(_ operation: SpecOperation) -> (value: JSONValue, pointer: JSONPointer)? {
        guard let item = spec.value(at: operation.pathPointer) else { return nil }
        return try? spec.resolved(item, at: operation.pathPointer)
    }

    private mutating func parameter(_ parameter: (value: JSONValue, pointer: JSONPointer), routeParameters: [String: String]) -> JSONValue? {
        let value = parameter.value
        guard var name = value["name"]?.stringValue, let location = value["in"]?.stringValue, ["path", "query", "header"].contains(location)
        else { return nil }
        if location == "header" {
            guard EntityName.isToken(name), !Self.ignoredHeaders.contains(name.lowercased()) else { return nil }
            name = name.lowercased()
        }
        if location == "path" {
            // A parameter inside a segment with other text is matched as the whole segment.
            guard let routeName = routeParameters[name] else { return nil }
            name = routeName
        }
        let required = value["required"]?.boolValue ?? (location == "path")
        var schema: JSONValue
        if spec.flavor == .swagger2 {
            schema = self.schema(value, at: parameter.pointer, depth: 0)
        } else if let given = value["schema"] {
            schema = self.schema(given, at: parameter.pointer.appending("schema"), depth: 0)
        } else {
            schema = [:]
        }
        if schema["type"]?.arrayValue?.contains("object") == true {
            note(parameter.pointer, "an object parameter is not checked, only whether it is there")
            schema = [:]
        }
        if schema["type"]?.arrayValue?.contains("array") == true, !readsArray(value, location: location) {
            note(parameter.pointer, "the list's serialization is not one the gateway reads; only whether it is there is checked")
            schema = [:]
        }
        return ["name": .string(name), "in": .string(location), "required": .bool(required), "schema": schema]
    }

    /// Lists the gateway reads: repeated query parameters (`form`, exploded; 2.0's `multi`) and
    /// comma-separated path and header values (`simple`; 2.0's `csv`).
    private func readsArray(_ parameter: JSONValue, location: String) -> Bool {
        if spec.flavor == .swagger2 {
            let format = parameter["collectionFormat"]?.stringValue ?? "csv"
            return location == "query" ? format == "multi" : format == "csv"
        }
        if location == "query" {
            return (parameter["style"]?.stringValue ?? "form") == "form" && (parameter["explode"]?.boolValue ?? true)
        }
        return (parameter["style"]?.stringValue ?? "simple") == "simple"
    }

    /// 2.0's `in: body` parameter: JSON when the operation consumes JSON.
    private mutating func swaggerBody(_ parameter: (value: JSONValue, pointer: JSONPointer), operation: SpecOperation) -> JSONValue {
        let json = operation.bodyMediaTypes.filter(Self.isJSON)
        guard !json.isEmpty else { return .null }
        return [
            "required": .bool(parameter.value["required"]?.boolValue ?? false),
            "other_media_types": .bool(json.count < operation.bodyMediaTypes.count),
            "schema": parameter.value["schema"].map { schema($0, at: parameter.pointer.appending("schema"), depth: 0) } ?? [:],
        ]
    }

    private mutating func openAPIBody(_ value: JSONValue, at pointer: JSONPointer) -> JSONValue {
        guard let body = try? spec.resolved(value, at: pointer), let content = body.value["content"]?.objectValue else { return .null }
        guard let type = content.keys.sorted().first(where: Self.isJSON) else { return .null }
        let schemaPointer = body.pointer.appending("content").appending(type).appending("schema")
        return [
            "required": .bool(body.value["required"]?.boolValue ?? false),
            "other_media_types": .bool(content.keys.contains { !Self.isJSON($0) }),
            "schema": content[type]?["schema"].map { schema($0, at: schemaPointer, depth: 0) } ?? [:],
        ]
    }

    private static func isJSON(_ mediaType: String) -> Bool {
        let type = mediaType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingASCIISpaces().lowercased() } ?? ""
        return type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
    }

    private mutating func note(_ pointer: JSONPointer, _ message: String) {
        warnings.append(spec.problem(pointer, "request validation: \(message)", .warning))
    }

    /// The schema at `pointer` in the subset `ValueSchemaRules` admits.
    private mutating func schema(_ value: JSONValue, at pointer: JSONPointer, depth: Int) -> JSONValue {
        var value = value
        var pointer = pointer
        var expanded = false
        if let reference = value["$ref"]?.stringValue {
            guard let target = JSONPointer(reference: reference), !expanding.contains(target), depth < Self.maxDepth else {
                // Recursive or very deep: what lies below is not checked.
                return [:]
            }
            guard let resolved = try? spec.resolved(value, at: pointer) else { return [:] }
            (value, pointer) = resolved
            expanding.append(target)
            expanded = true
        }
        defer { if expanded { expanding.removeLast() } }
        guard case .object(let fields) = value, depth < Self.maxDepth else { return [:] }
        if let nullable = nullableAlternative(fields, at: pointer, depth: depth) { return nullable }
        if let combinator = ["allOf", "oneOf", "anyOf", "not"].first(where: { fields[$0] != nil }) {
            note(pointer.appending(combinator), "\(combinator) is not checked; this part of the request is taken as it is")
            return [:]
        }
        var result: [String: JSONValue] = [:]
        let known = ValueSchemaRules.types
        var types: [String] = []
        switch fields["type"] {
        case .string(let type)?: types = [type]
        case .array(let items)?: types = items.compactMap(\.stringValue)
        default: break
        }
        // 2.0's `file`, or a type this gateway does not know, leaves the type open.
        if !types.isEmpty, types.allSatisfy(known.contains) {
            if fields["nullable"]?.boolValue == true, !types.contains("null") { types.append("null") }
            result["type"] = .array(types.map(JSONValue.string))
        }
        if case .array(var values)? = fields["enum"], !values.isEmpty {
            if fields["nullable"]?.boolValue == true, !values.contains(.null) { values.append(.null) }
            result["enum"] = .array(values)
        } else if let constant = fields["const"] {
            result["enum"] = [constant]
        }
        if let pattern = fields["pattern"]?.stringValue {
            if (try? Regex(pattern)) != nil {
                result["pattern"] = .string(pattern)
            } else {
                note(pointer.appending("pattern"), "the pattern is not one the gateway's regular expressions read; it is not checked")
            }
        }
        for key in ["minLength", "maxLength", "minItems", "maxItems"] {
            if let count = Self.count(fields[key]) { result[key] = .int(count) }
        }
        for key in ["minimum", "maximum"] where fields[key]?.numberValue != nil { result[key] = fields[key] }
        // 2.0 and 3.0 make the bound exclusive with a boolean; 3.1 gives the bound itself.
        for (flag, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
            switch fields[flag] {
            case .bool(true)?:
                if let number = result.removeValue(forKey: bound) { result[flag] = number }
            case let number? where number.numberValue != nil: result[flag] = number
            default: break
            }
        }
        if let items = fields["items"] { result["items"] = schema(items, at: pointer.appending("items"), depth: depth + 1) }
        var readOnly: Set<String> = []
        if case .object(let properties)? = fields["properties"] {
            var derived: [String: JSONValue] = [:]
            for name in properties.keys.sorted() {
                let property = properties[name]!
                // A read-only property is the server's to send; a request that carries one is not refused for it.
                if (try? spec.resolved(property, at: pointer))?.value["readOnly"]?.boolValue == true {
                    readOnly.insert(name)
                    derived[name] = [:]
                    continue
                }
                derived[name] = schema(property, at: pointer.appending("properties").appending(name), depth: depth + 1)
            }
            result["properties"] = .object(derived)
        }
        if case .array(let names)? = fields["required"] {
            let required = Array(Set(names.compactMap(\.stringValue).filter { !readOnly.contains($0) })).sorted()
            if !required.isEmpty { result["required"] = .array(required.map(JSONValue.string)) }
        }
        switch fields["additionalProperties"] {
        case .bool(let allowed)?: result["additionalProperties"] = .bool(allowed)
        case .object(let extra)? where !extra.isEmpty:
            result["additionalProperties"] = schema(.object(extra), at: pointer.appending("additionalProperties"), depth: depth + 1)
        default: break
        }
        return .object(result)
    }

    /// Keywords that say nothing about what is valid.
    private static let annotations: Set<String> = ["description", "title", "default", "example", "examples", "deprecated", "readOnly", "writeOnly"]

    /// 3.1's way to write "nullable": `anyOf` (or `oneOf`) of one schema and `{type: 'null'}`,
    /// with nothing else beside it. It is that schema with `null` added to its types.
    private mutating func nullableAlternative(_ fields: [String: JSONValue], at pointer: JSONPointer, depth: Int) -> JSONValue? {
        guard let key = ["anyOf", "oneOf"].first(where: { fields[$0] != nil }), case .array(let branches)? = fields[key], branches.count == 2,
            fields.keys.allSatisfy({ $0 == key || Self.annotations.contains($0) })
        else { return nil }
        func isNull(_ branch: JSONValue) -> Bool {
            guard case .object(let keys) = branch, keys["type"] == "null" || keys["type"] == ["null"] else { return false }
            return keys.keys.allSatisfy { $0 == "type" || Self.annotations.contains($0) }
        }
        guard let nullIndex = branches.firstIndex(where: isNull) else { return nil }
        let index = 1 - nullIndex
        guard case .object(var derived) = schema(branches[index], at: pointer.appending(key).appending(index), depth: depth + 1) else {
            return nil
        }
        if case .array(let types)? = derived["type"], !types.contains("null") { derived["type"] = .array(types + ["null"]) }
        if case .array(let values)? = derived["enum"], !values.contains(.null) { derived["enum"] = .array(values + [.null]) }
        return .object(derived)
    }

    private static func count(_ value: JSONValue?) -> Int? {
        switch value {
        case .int(let count)? where count >= 0 && count <= Int(Int32.max): count
        case .double(let number)? where number >= 0 && number.rounded() == number && number <= Double(Int32.max): Int(number)
        default: nil
        }
    }
}
