import GatehouseModel

/// What an operation's security requirements become: a `key-auth` policy with the API key
/// names of its `apiKey` schemes, or no authentication (`security: []`, none declared, or an
/// empty alternative `{}`). Nothing is dropped silently: every requirement that cannot be
/// enforced (an AND of schemes, a cookie key, a scheme type no policy checks yet) is a warning
/// at the pointer where the requirement is written.
struct SecurityMapping: Sendable, Equatable {
    /// Header or query parameter names for `key-auth`; nil for no authentication.
    var keyNames: [String]?
    /// The subset of `keyNames` sent as headers (for derived CORS).
    var headerKeyNames: [String]
    /// Warnings, and errors where the spec names a scheme it does not define.
    var warnings: [ImportProblem]

    static let none = SecurityMapping(keyNames: nil, headerKeyNames: [], warnings: [])

    static func map(_ requirement: (value: JSONValue, pointer: JSONPointer)?, in spec: SpecDocument) -> SecurityMapping {
        guard let (value, pointer) = requirement else { return .none }
        guard case .array(let alternatives) = value else {
            return SecurityMapping(keyNames: nil, headerKeyNames: [], warnings: [spec.problem(pointer, "expected a list of security requirements")])
        }
        if alternatives.isEmpty { return .none }
        var names: [String] = []
        var headerNames: [String] = []
        var unmapped: [(JSONPointer, String)] = []
        var invalid: [ImportProblem] = []
        for (index, alternative) in alternatives.enumerated() {
            let at = pointer.appending(index)
            guard case .object(let schemes) = alternative else {
                unmapped.append((at, "expected a security requirement object"))
                continue
            }
            // `{}` among the alternatives: calling without credentials is allowed.
            if schemes.isEmpty { return .none }
            guard schemes.count == 1, let name = schemes.keys.first else {
                unmapped.append(
                    (at, "requires \(schemes.keys.sorted().joined(separator: " AND ")) together; a route takes one authentication policy"))
                continue
            }
            switch scheme(named: name, in: spec) {
            case .failure(let refusal) where refusal.invalidSpec: invalid.append(spec.problem(at.appending(name), refusal.reason))
            case .failure(let refusal): unmapped.append((at.appending(name), refusal.reason))
            case .success(let (key, inHeader)):
                if !names.contains(key) { names.append(key) }
                if inHeader, !headerNames.contains(key) { headerNames.append(key) }
            }
        }
        var warnings: [ImportProblem] = []
        for (at, reason) in unmapped {
            let consequence =
                names.isEmpty
                ? "served WITHOUT authentication" : "only callers with an API key (\(names.joined(separator: ", "))) are let in"
            warnings.append(spec.problem(at, "not enforced: \(reason); \(consequence)", .warning))
        }
        return SecurityMapping(keyNames: names.isEmpty ? nil : names, headerKeyNames: headerNames, warnings: invalid + warnings)
    }

    /// The key name of an `apiKey` scheme in a header or the query, and whether it is a header;
    /// otherwise why the scheme cannot be enforced.
    private static func scheme(named name: String, in spec: SpecDocument) -> Result<(String, Bool), Refusal> {
        let container = spec.flavor == .swagger2 ? ["securityDefinitions"] : ["components", "securitySchemes"]
        let pointer = JSONPointer(tokens: container + [name])
        guard let raw = spec.value(at: pointer), let scheme = try? spec.resolved(raw, at: pointer).value else {
            return .failure(.invalid("no security scheme '\(name)' is defined (\(pointer))"))
        }
        let type = scheme["type"]?.stringValue ?? ""
        switch type {
        case "apiKey":
            guard case .string(let key)? = scheme["name"], EntityName.isToken(key) else {
                return .failure("apiKey scheme '\(name)' has no valid name")
            }
            switch scheme["in"]?.stringValue {
            case "header": return .success((key.lowercased(), true))
            case "query": return .success((key.lowercased(), false))
            default: return .failure("apiKey scheme '\(name)' is sent in a cookie; key-auth reads headers and query parameters")
            }
        case "basic":
            return .failure("scheme '\(name)' is HTTP basic; no basic-auth policy is enforced in this release")
        case "http":
            let kind = scheme["scheme"]?.stringValue?.lowercased() ?? ""
            return .failure(
                kind == "basic"
                    ? "scheme '\(name)' is HTTP basic; no basic-auth policy is enforced in this release"
                    : "scheme '\(name)' is HTTP \(kind); no jwt or oauth2-introspection policy is enforced in this release")
        case "oauth2", "openIdConnect":
            return .failure("scheme '\(name)' is \(type); no jwt or oauth2-introspection policy is enforced in this release")
        default:
            return .failure("scheme '\(name)' is of type '\(type)', which no policy enforces")
        }
    }
}
