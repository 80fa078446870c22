/// What the admin API needs to manage one kind of top-level entity generically.
public protocol ConfigEntity: Sendable, Hashable {
    static var kind: EntityKind { get }
    static var all: WritableKeyPath<ConfigDocument, [Self]> { get }
    var header: EntityHeader { get set }
    /// Reads the entity; with `id` given (admin API input) the id is assigned, not read.
    static func read(_ value: JSONValue, id: String?, path: String) throws(ConfigError) -> Self
    /// The document form, as snapshots hold it.
    func json() -> JSONValue
    /// The admin API form (no timestamps).
    func apiJSON() -> JSONValue
    /// Carries over what the API form does not hold (a consumer's credentials) on replace.
    mutating func keepManagedElsewhere(from old: Self)
}

extension ConfigEntity {
    public var id: String { header.id }
    public var name: String { header.name }
    public mutating func keepManagedElsewhere(from old: Self) {}
}

extension Upstream: ConfigEntity {
    public static let kind = EntityKind.upstream
    public static var all: WritableKeyPath<ConfigDocument, [Upstream]> { \.upstreams }
    public func apiJSON() -> JSONValue { json() }
}

extension Route: ConfigEntity {
    public static let kind = EntityKind.route
    public static var all: WritableKeyPath<ConfigDocument, [Route]> { \.routes }
    public func apiJSON() -> JSONValue { json() }
}

extension Consumer: ConfigEntity {
    public static let kind = EntityKind.consumer
    public static var all: WritableKeyPath<ConfigDocument, [Consumer]> { \.consumers }
    public func apiJSON() -> JSONValue { jsonWithoutCredentials() }
    public mutating func keepManagedElsewhere(from old: Consumer) { credentials = old.credentials }
}

extension Policy: ConfigEntity {
    public static let kind = EntityKind.policy
    public static var all: WritableKeyPath<ConfigDocument, [Policy]> { \.policies }
    public func apiJSON() -> JSONValue { json() }
}
