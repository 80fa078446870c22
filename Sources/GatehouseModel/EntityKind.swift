/// The kinds of top-level config entities, in the order a document lists them.
public enum EntityKind: String, Sendable, CaseIterable {
    case upstream
    case route
    case consumer
    case credential
    case policy
    case certificate

    public var singular: String { rawValue }

    public var plural: String {
        switch self {
        case .policy: "policies"
        default: rawValue + "s"
        }
    }
}
