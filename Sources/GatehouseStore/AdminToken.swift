import GatehouseModel

/// An admin API token as stored: its public id, name and role, and the SHA-256 of its secret
/// (the secret itself is shown once, when it is created, and never stored).
public struct AdminToken: Sendable, Equatable {
    public let id: String
    public let name: String
    public let role: AdminRole
    /// SHA-256 of the secret part, lowercase hex.
    public let hash: String
    public let createdAt: Int
    public let createdBy: String
    public let revokedAt: Int?

    public init(id: String, name: String, role: AdminRole, hash: String, createdAt: Int, createdBy: String, revokedAt: Int? = nil) {
        self.id = id
        self.name = name
        self.role = role
        self.hash = hash
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.revokedAt = revokedAt
    }
}
