import GatehouseModel

/// One entry of `x-gatehouse.policies`: a policy of any type with its usual config, where it was
/// written (problems with it point there), or the removal of an inherited one (`name: false`).
struct PolicyDeclaration: Sendable, Hashable {
    var type: PolicyType
    /// The config as written; a derived `cors` config gets its methods and headers filled in.
    var config: [String: JSONValue]
    var file: String
    var pointer: JSONPointer

    /// Reads `{type, config}` at `pointer`; the config is checked by the policy type's own rules.
    static func read(_ value: JSONValue, file: String, at pointer: JSONPointer) -> Result<PolicyDeclaration, ImportProblem> {
        func problem(_ at: JSONPointer, _ message: String) -> Result<PolicyDeclaration, ImportProblem> {
            .failure(ImportProblem(.error, file: file, pointer: at, message))
        }
        guard case .object(let fields) = value else {
            return problem(pointer, "expected {type, config}, or false to remove an inherited policy; got \(value.typeName)")
        }
        if let unknown = fields.keys.sorted().first(where: { !["type", "config"].contains($0) }) {
            return problem(pointer.appending(unknown), "unknown key; a policy has type and config")
        }
        guard case .string(let typeText)? = fields["type"] else { return problem(pointer.appending("type"), "is required: a policy type") }
        guard let type = PolicyType(rawValue: typeText) else {
            return problem(
                pointer.appending("type"),
                "'\(typeText)' is not a policy type: use one of \(PolicyType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let config: [String: JSONValue]
        switch fields["config"] {
        case nil, .null?: config = [:]
        case .object(let object)?: config = object
        case let other?: return problem(pointer.appending("config"), "expected an object, got \(other.typeName)")
        }
        do {
            try type.validate(.object(config))
        } catch {
            return problem(pointer.appending(field: error.field ?? "config"), error.message)
        }
        return .success(PolicyDeclaration(type: type, config: config, file: file, pointer: pointer))
    }
}
