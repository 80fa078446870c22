import GatehouseModel

/// What an operation's security requirements become: a `key-auth` policy with the API key
/// names of its `apiKey` schemes and a `basic-auth` policy for HTTP basic (either suffices, as
/// alternatives do), or no authentication (`security: []`, none declared, or an empty
/// alternative `{}`). Nothing is dropped silently: every requirement that cannot be enforced (an
/// AND of schemes, a cookie key, bearer tokens, whose keys or server the spec does not name) is a
/// warning at the pointer where the requirement is written.
struct SecurityMapping: Sendable, Equatable {
    /// Header or query parameter names for `key-auth`; nil for none.
    var keyNames: [String]?
    /// The subset of `keyNames` sent as headers (for derived CORS).
    var headerKeyNames: [String]
    /// An alternative is HTTP basic: a `basic-auth` policy.
    var basic = false
    /// Warnings, and errors where the spec names a scheme it does not define.
    var warnings: [ImportProblem]

    static let none = SecurityMapping(keyNames: nil, headerKeyNames: [], warnings: [])

    /// What a scheme maps to.
    private enum Mapped {
        case key(String, inHeader: Bool)
        case basic
    }

    static func map(_ requirement: (value: JSONValue, pointer: JSONPointer)?, in spec: SpecDocument) -> SecurityMapping {
        guard let (value, pointer) = requirement else { return .none }
        guard case .array(let alternatives) = value else {
            return SecurityMapping(keyNames: nil, headerKeyNames: [], warnings: [spec.problem(pointer, "expected a list of security requirements")])
        }
        if alternatives.isEmpty { return .none }
        var names: [String] = []
        var headerNames: [String] = []
        var basic = false
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
            case .success(.key(let key, let inHeader)):
                if !names.contains(key) { names.append(key) }
                if inHeader, !headerNames.contains(key) { headerNames.append(key) }
            case .success(.basic):
                basic = true
            }
        }
        let admitted = (names.isEmpty ? [] : ["an API key (\(names.joined(separator: ", ")))"]) + (basic ? ["HTTP basic credentials"] : [])
        var warnings: [ImportProblem] = []
        for (at, reason) in unmapped {
            let consequence = admitted.isEmpty ? "served WITHOUT authentication" : "only callers with \(admitted.joined(separator: " or ")) are let in"
            warnings.append(spec.problem(at, "not enforced: \(reason); \(consequence)", .warning))
        }
        return SecurityMapping(keyNames: names.isEmpty ? nil : names, headerKeyNames: headerNames, basic: basic, warnings: invalid + warnings)
    }

    /// The key name of an `apiKey` scheme in a header or the query, and whether it is a header,
    /// or HTTP basic; otherwise why the scheme cannot be enforced.
    private static func scheme(named name: String, in spec: SpecDocument) -> Result<Mapped, Refusal> {
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
            case "header": return .success(.key(key.lowercased(), inHeader: true))
            case "query": return .success(.key(key.lowercased(), inHeader: false))
            default: return .failure("apiKey scheme '\(name)' is sent in a cookie; key-auth reads headers and query parameters")
            }
        case "basic":
            return .success(.basic)
        case "http" where scheme["scheme"]?.stringValue?.lowercased() == "basic":
            return .success(.basic)
        case "http", "oauth2", "openIdConnect":
            let what = type == "http" ? "HTTP \(scheme["scheme"]?.stringValue?.lowercased() ?? "")" : type
            return .failure(
                "scheme '\(name)' is \(what): the spec does not say which keys or which server check its tokens; declare a jwt or oauth2-introspection policy in x-gatehouse")
        default:
            return .failure("scheme '\(name)' is of type '\(type)', which no policy enforces")
        }
    }
}
