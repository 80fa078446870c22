/// Behaviour attached to traffic. `config` holds the type's normalized config, defaults filled in.
public struct Policy: Sendable, Hashable {
    public var header: EntityHeader
    public var type: PolicyType
    public var config: JSONValue
    /// Route name, or nil for every route.
    public var route: String?
    /// Consumer name, or nil for every consumer.
    public var consumer: String?
    public var enabled = true

    public var id: String { header.id }
    public var name: String { header.name }

    public init(header: EntityHeader, type: PolicyType, config: JSONValue) {
        self.header = header
        self.type = type
        self.config = config
    }

    public static func read(_ value: JSONValue, id: String? = nil, path: String = "") throws(ConfigError) -> Policy {
        var reader = try FieldReader(value, path: path)
        let header = try EntityHeader.read(&reader, id: id)
        let typeText = try reader.string("type")
        guard let type = PolicyType(rawValue: typeText) else {
            throw .invalid(
                "'\(typeText)' is not a policy type: use one of \(PolicyType.allCases.map(\.rawValue).joined(separator: ", "))",
                field: reader.field("type"))
        }
        let config = try type.normalize(reader.value("config") ?? [:], path: reader.field("config"))
        var policy = Policy(header: header, type: type, config: config)
        policy.route = try reader.optionalString("route")
        policy.consumer = try reader.optionalString("consumer")
        if policy.consumer != nil, !type.isConsumerScopable {
            let why =
                switch type {
                case .requestValidation:
                    "a request-validation policy says what a route's requests must look like, whoever sends them: it cannot be scoped to a consumer"
                case .acl: "an acl says which consumer groups may call a route: scope it to a route (or none), and give consumers groups"
                case .requestTransformer, .responseTransformer:
                    "a \(type.rawValue) policy is a route's (or every route's) in this release: it cannot be scoped to a consumer; use $(consumer.…) in its values"
                default: "a \(type.rawValue) policy runs before authentication identifies a consumer, so it cannot be scoped to one"
                }
            throw .invalid(why, field: reader.field("consumer"))
        }
        policy.enabled = try reader.optionalBool("enabled") ?? true
        try reader.finish()
        return policy
    }

    /// "every route", "route 'r'", "consumer 'c'", "route 'r' and consumer 'c'".
    public var scopeDescription: String {
        switch (route, consumer) {
        case (nil, nil): "every route"
        case (let route?, nil): "route '\(route)'"
        case (nil, let consumer?): "consumer '\(consumer)'"
        case (let route?, let consumer?): "route '\(route)' and consumer '\(consumer)'"
        }
    }

    public func json() -> JSONValue {
        var fields = header.fields()
        fields["type"] = .string(type.rawValue)
        fields["config"] = config
        fields["route"] = route.map(JSONValue.string) ?? .null
        fields["consumer"] = consumer.map(JSONValue.string) ?? .null
        fields["enabled"] = .bool(enabled)
        return .object(fields)
    }
}
