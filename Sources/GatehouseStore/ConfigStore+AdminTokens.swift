import Foundation
import GRDB
import GatehouseModel

/// Admin tokens live beside the config, not in it: they are not versioned, never in a snapshot,
/// and never sent to a data plane.
extension ConfigStore {
    /// Every token, accepted and revoked, oldest first.
    public func adminTokens() throws -> [AdminToken] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, name, role, hash, created_at, created_by, revoked_at FROM admin_tokens ORDER BY created_at, id")
                .compactMap { row in
                    guard let role = AdminRole(rawValue: row["role"]) else { return nil }
                    return AdminToken(
                        id: row["id"], name: row["name"], role: role, hash: row["hash"], createdAt: row["created_at"], createdBy: row["created_by"],
                        revokedAt: row["revoked_at"])
                }
        }
    }

    /// Stores a new token; a name an accepted token already has is a conflict.
    public func addAdminToken(_ token: AdminToken) throws {
        try pool.write { db in
            let taken = try Bool.fetchOne(db, sql: "SELECT 1 FROM admin_tokens WHERE name = ? AND revoked_at IS NULL", arguments: [token.name]) ?? false
            if taken { throw ConfigError(code: .conflict, message: "an admin token named '\(token.name)' exists; revoke it first or choose another name") }
            try db.execute(
                sql: "INSERT INTO admin_tokens (id, name, role, hash, created_at, created_by, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [token.id, token.name, token.role.rawValue, token.hash, token.createdAt, token.createdBy, token.revokedAt])
        }
    }

    /// Revokes the accepted token with this id or name; returns it, or nil when none is accepted.
    public func revokeAdminToken(_ idOrName: String, at now: Int) throws -> AdminToken? {
        let revoked = try pool.write { db -> String? in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT id FROM admin_tokens WHERE (id = ? OR name = ?) AND revoked_at IS NULL ORDER BY id = ? DESC LIMIT 1",
                    arguments: [idOrName, idOrName, idOrName])
            else { return nil }
            let id: String = row["id"]
            try db.execute(sql: "UPDATE admin_tokens SET revoked_at = ? WHERE id = ?", arguments: [now, id])
            return id
        }
        guard let revoked else { return nil }
        return try adminTokens().first { $0.id == revoked }
    }
}
