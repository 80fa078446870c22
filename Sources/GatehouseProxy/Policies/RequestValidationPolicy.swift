import GatehouseHTTP1
import GatehouseModel
import NIOHTTP1

/// A `request-validation` policy compiled with its snapshot: the parameters a route's requests
/// must have and the JSON body they may carry, each with its `ValueSchema`. Immutable and
/// shared by every event loop; checking a request reads its head (and, for a body, the bytes
/// held until it ended) and never the spec it came from.
final class RequestValidationPolicy: Sendable {
    enum Location: String, Sendable {
        case path, query, header
    }

    struct Parameter: Sendable {
        /// Lowercase for headers.
        let name: String
        let location: Location
        let required: Bool
        let schema: ValueSchema
    }

    struct Body: Sendable {
        let maxBytes: Int
        let required: Bool
        /// Bodies of other media types than JSON go on unchecked (else: 415).
        let otherMediaTypes: Bool
        let schema: ValueSchema
    }

    /// Why a request is refused: the answer's status, code, message and the fields naming what
    /// was wrong (`in` and `parameter`, or `pointer` into the body).
    struct Refusal: Error {
        let status: HTTPResponseStatus
        let code: String
        let message: String
        let fields: [(String, String)]
    }

    let name: String
    let parameters: [Parameter]
    let body: Body?

    init(name: String, config: JSONValue) throws(ConfigError) {
        self.name = name
        var parameters: [Parameter] = []
        for item in config["parameters"]?.arrayValue ?? [] {
            guard let name = item["name"]?.stringValue, let location = item["in"]?.stringValue.flatMap(Location.init(rawValue:)) else {
                throw .invalid("a parameter has no name or location", field: "parameters")
            }
            parameters.append(
                Parameter(
                    name: name, location: location, required: item["required"]?.boolValue ?? false, schema: try ValueSchema(item["schema"] ?? [:])))
        }
        self.parameters = parameters
        if let body = config["body"], body != .null {
            self.body = Body(
                maxBytes: body["max_bytes"]?.intValue ?? 1_048_576, required: body["required"]?.boolValue ?? false,
                otherMediaTypes: body["other_media_types"]?.boolValue ?? false, schema: try ValueSchema(body["schema"] ?? [:]))
        } else {
            self.body = nil
        }
    }

    /// Checks every parameter in the order the config lists them; the first one wrong refuses.
    func checkParameters(headers: RequestFields, query: Substring?, captures: [(name: String, value: Substring)]) throws(Refusal) {
        for parameter in parameters {
            let texts: [String]
            switch parameter.location {
            case .path:
                guard let raw = captures.first(where: { $0.name == parameter.name })?.value else { continue }
                guard let text = PercentDecoding.decode(raw, plusIsSpace: false) else { throw refusal(parameter, "is not percent-encoded correctly") }
                texts = [text]
            case .query:
                texts = try queryValues(parameter, query)
            case .header:
                texts = headers[name: parameter.name]
            }
            guard !texts.isEmpty else {
                if parameter.required { throw refusal(parameter, "is required") }
                continue
            }
            do {
                try parameter.schema.check(Self.value(texts, location: parameter.location, schema: parameter.schema))
            } catch {
                let inside = error.reversedTokens.isEmpty ? "" : " (item \(error.pointer.dropFirst()))"
                throw refusal(parameter, "\(error.message)\(inside)")
            }
        }
    }

    /// Whether this request's body is held to be checked: a JSON body. Refuses a body of
    /// another media type unless the config lets it through, and a missing body that is required.
    func holdsBody(_ headers: RequestFields) throws(Refusal) -> Bool {
        guard let body else { return false }
        let hasBody =
            headers.contains(name: "transfer-encoding") || headers.first(name: "content-length").map { $0 != "0" } ?? false
        guard hasBody else {
            if body.required {
                throw Refusal(status: .badRequest, code: "invalid_request", message: "a request body is required", fields: [("pointer", "")])
            }
            return false
        }
        if Self.isJSON(headers.first(name: "content-type")) { return true }
        if body.otherMediaTypes { return false }
        throw Refusal(
            status: .unsupportedMediaType, code: "unsupported_media_type", message: "the request body must be JSON (Content-Type: application/json)",
            fields: [])
    }

    /// Checks a complete JSON body.
    func checkBody(_ bytes: [UInt8]) throws(Refusal) {
        guard let body else { return }
        if bytes.isEmpty {
            if body.required {
                throw Refusal(status: .badRequest, code: "invalid_request", message: "a request body is required", fields: [("pointer", "")])
            }
            return
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw Refusal(
                status: .badRequest, code: "invalid_json", message: "the request body is not JSON: \(error.message)", fields: [("pointer", "")])
        }
        do {
            try body.schema.check(value)
        } catch {
            let pointer = error.pointer
            throw Refusal(
                status: .badRequest, code: "invalid_request", message: "body\(pointer.isEmpty ? "" : " \(pointer)") \(error.message)",
                fields: [("pointer", pointer)])
        }
    }

    private func refusal(_ parameter: Parameter, _ message: String) -> Refusal {
        Refusal(
            status: .badRequest, code: "invalid_request", message: "\(parameter.location.rawValue) parameter '\(parameter.name)' \(message)",
            fields: [("in", parameter.location.rawValue), ("parameter", parameter.name)])
    }

    /// Every value of the query parameter, decoded (`form` style: `?id=1&id=2` for a list).
    private func queryValues(_ parameter: Parameter, _ query: Substring?) throws(Refusal) -> [String] {
        guard var rest = query else { return [] }
        var values: [String] = []
        // Walked in place: no list of the query's pairs is made for each parameter.
        while !rest.isEmpty {
            let end = rest.utf8.firstIndex(of: UInt8(ascii: "&")) ?? rest.endIndex
            let pair = rest[..<end]
            rest = end == rest.endIndex ? "" : rest[rest.index(after: end)...]
            let equals = pair.utf8.firstIndex(of: UInt8(ascii: "="))
            let rawName = pair[..<(equals ?? pair.endIndex)]
            if rawName != parameter.name {
                // Only a name with escapes can still be this one.
                guard rawName.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }),
                    PercentDecoding.decode(rawName, plusIsSpace: true) == parameter.name
                else { continue }
            }
            let rawValue = equals.map { pair[pair.index(after: $0)...] } ?? ""
            guard let value = PercentDecoding.decode(rawValue, plusIsSpace: true) else {
                throw refusal(parameter, "is not percent-encoded correctly")
            }
            values.append(value)
        }
        return values
    }

    /// The JSON value parameter text stands for under its schema: a number or boolean where the
    /// schema allows one and the text is one, a list for an array (repeated query parameters,
    /// or comma-separated in a path or header), else the text itself.
    static func value(_ texts: [String], location: Location, schema: ValueSchema) -> JSONValue {
        if schema.types.contains(.array) {
            let items = location == .query ? texts : texts.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            return .array(items.map { scalar($0, schema.items?.types ?? []) })
        }
        return scalar(texts[0], schema.types)
    }

    private static func scalar(_ text: String, _ types: ValueSchema.Types) -> JSONValue {
        if types.contains(.integer), let number = Int(text) { return .int(number) }
        if types.contains(.number), let number = Double(text), number.isFinite, text.utf8.allSatisfy({ !isLetterOtherThanE($0) }) {
            return .double(number)
        }
        if types.contains(.boolean), text == "true" || text == "false" { return .bool(text == "true") }
        return .string(text)
    }

    /// `Double` reads `inf`, `nan` and hex floats; JSON numbers have no letters but an exponent.
    private static func isLetterOtherThanE(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) && byte | 0x20 != UInt8(ascii: "e")
    }

    /// `application/json` and any `+json` type, parameters aside.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let type = contentType.split(separator: ";", maxSplits: 1).first?.trimmingASCIISpaces().lowercased() ?? ""
        return type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
    }
}
