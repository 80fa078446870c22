import GatehouseModel

/// An `ip-restriction` policy compiled: CIDRs the client address (the peer, or for a trusted
/// proxy the address it forwarded for) must not be in, and, with an allow list, must be in.
/// Deny wins over allow. Immutable.
public final class IPRestrictionPolicy: Sendable {
    public let name: String
    let allow: [IPRange]
    let deny: [IPRange]

    enum Decision: Equatable {
        case allowed
        /// In this denied range.
        case denied(String)
        /// Not in any allowed range.
        case notAllowed
        /// The address cannot be read (a trusted proxy forwarded something that is no address):
        /// refused, since no list can be checked.
        case unreadable

        var reason: PolicyMetrics.Reason {
            switch self {
            case .allowed: .allowed
            case .denied: .addressDenied
            case .notAllowed: .addressNotAllowed
            case .unreadable: .addressUnreadable
            }
        }
    }

    init(name: String, config: JSONValue) {
        self.name = name
        allow = config["allow"]?.arrayValue?.compactMap { $0.stringValue.flatMap { IPRange($0) } } ?? []
        deny = config["deny"]?.arrayValue?.compactMap { $0.stringValue.flatMap { IPRange($0) } } ?? []
    }

    /// One parse of the address, then masks and compares per range: no allocation.
    func decide(_ address: String) -> Decision {
        guard let parsed = IPAddress(address) else { return .unreadable }
        if let range = deny.first(where: { $0.contains(parsed) }) { return .denied(range.description) }
        if !allow.isEmpty, !allow.contains(where: { $0.contains(parsed) }) { return .notAllowed }
        return .allowed
    }

    /// The 403's message. The client learns that its address is refused, not the lists.
    func message(_ decision: Decision, address: String) -> String {
        switch decision {
        case .allowed: ""
        case .denied, .notAllowed: "policy '\(name)': client address \(address) may not call this route"
        case .unreadable: "policy '\(name)': the client address cannot be read"
        }
    }
}
