import GatehouseModel

/// An `acl` policy compiled: which consumer groups may (or may not) call the route. Runs after
/// authentication identified the consumer (or went on as the anonymous one, whose groups count
/// as any consumer's). Immutable.
public final class ACLPolicy: Sendable {
    public let name: String
    /// Exactly one of them is set (admission sees to it).
    let allow: Set<String>?
    let deny: Set<String>?
    let hideGroupsHeader: Bool

    /// What the client sends under this name never reaches the upstream on an acl route.
    static let groupsHeader = "x-consumer-groups"

    enum Decision: Equatable {
        case allowed
        /// No consumer is known (the route authenticates nobody), and the acl allows groups.
        case noConsumer
        /// The consumer is in none of the allowed groups.
        case notAllowed
        /// The consumer is in this denied group.
        case denied(String)

        var reason: PolicyMetrics.Reason {
            switch self {
            case .allowed: .allowed
            case .noConsumer: .noConsumer
            case .notAllowed: .groupNotAllowed
            case .denied: .groupDenied
            }
        }
    }

    init(name: String, config: JSONValue) {
        self.name = name
        allow = config["allow"]?.arrayValue.map { Set($0.compactMap(\.stringValue)) }
        deny = config["deny"]?.arrayValue.map { Set($0.compactMap(\.stringValue)) }
        hideGroupsHeader = config["hide_groups_header"]?.boolValue ?? false
    }

    /// Consumers have a handful of groups: a set lookup for each.
    func decide(_ consumer: CompiledConsumer?) -> Decision {
        if let deny {
            guard let consumer else { return .allowed }
            if let group = consumer.groups.first(where: deny.contains) { return .denied(group) }
            return .allowed
        }
        guard let consumer else { return .noConsumer }
        guard let allow, consumer.groups.contains(where: allow.contains) else { return .notAllowed }
        return .allowed
    }

    /// The 403's message: names the policy and why, never the groups the route allows.
    func message(_ decision: Decision, consumer: CompiledConsumer?) -> String {
        switch decision {
        case .allowed: ""
        case .noConsumer: "policy '\(name)': no consumer is identified, and only consumers of some groups may call this route"
        case .notAllowed: "policy '\(name)': consumer '\(consumer?.name ?? "")' is not in a group allowed on this route"
        case .denied: "policy '\(name)': consumer '\(consumer?.name ?? "")' is in a group denied on this route"
        }
    }
}
