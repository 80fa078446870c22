/// Admission rules for `request-validation` configs: the parameters a route's requests must
/// have (path, query, header) and the JSON body they may carry, each with its schema.
enum RequestValidationConfigRules {
    static let locations = ["path", "query", "header"]
    /// A validated body is held until it is complete, so its size is bounded.
    static let defaultMaxBodyBytes = 1_048_576
    static let largestMaxBodyBytes = 64 * 1_048_576

    static func normalize(_ reader: inout FieldReader) throws(ConfigError) -> [String: JSONValue] {
        var parameters: [JSONValue] = []
        var seen: Set<String> = []
        for (index, item) in (try reader.optionalArray("parameters") ?? []).enumerated() {
            let path = "\(reader.field("parameters"))[\(index)]"
            var parameter = try FieldReader(item, path: path)
            let name = try parameter.string("name")
            let location = try parameter.string("in")
            guard locations.contains(location) else { throw .invalid("must be path, query or header", field: parameter.field("in")) }
            guard !name.isEmpty, location != "header" || EntityName.isToken(name) else {
                throw .invalid("'\(name)' is not a \(location) parameter name", field: parameter.field("name"))
            }
            // Header names are case-insensitive; the others are not.
            let key = location == "header" ? name.lowercased() : name
            guard seen.insert("\(location) \(key)").inserted else {
                throw .invalid("\(location) parameter '\(name)' is listed twice", field: parameter.field("name"))
            }
            // A path parameter is always there once the route matched.
            let required = try parameter.optionalBool("required") ?? (location == "path")
            let schema = try ValueSchemaRules.normalize(parameter.value("schema") ?? [:], path: parameter.field("schema"))
            // Object parameters (deepObject and the like) have no one text form to check.
            if schema["type"]?.arrayValue?.contains("object") == true {
                throw .invalid("a parameter cannot be checked as an object", field: "\(parameter.field("schema")).type")
            }
            try parameter.finish()
            parameters.append(["name": .string(key), "in": .string(location), "required": .bool(required), "schema": schema])
        }
        var body: JSONValue = .null
        if var bodyReader = try reader.optionalObject("body") {
            let maxBytes = try bodyReader.optionalInt("max_bytes", in: 1...largestMaxBodyBytes) ?? defaultMaxBodyBytes
            let required = try bodyReader.optionalBool("required") ?? false
            let otherMediaTypes = try bodyReader.optionalBool("other_media_types") ?? false
            let schema = try ValueSchemaRules.normalize(bodyReader.value("schema") ?? [:], path: bodyReader.field("schema"))
            try bodyReader.finish()
            body = [
                "max_bytes": .int(maxBytes), "required": .bool(required), "other_media_types": .bool(otherMediaTypes), "schema": schema,
            ]
        }
        if parameters.isEmpty, body == .null {
            throw .invalid("validates nothing: give parameters or a body", field: reader.field("parameters"))
        }
        return ["parameters": .array(parameters), "body": body]
    }
}
