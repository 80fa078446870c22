import Foundation
import GatehouseModel
import GatehouseStore
import HTTPTypes
import Hummingbird
import Logging

/// `/admin-tokens`: create (the token is shown once), list (never a secret nor its hash) and
/// revoke. Admin role only (`AdminAuth.requiredRole`). Tokens are not config: no version is made.
extension AdminAPI {
    func addTokenRoutes(to router: Router<AdminContext>) {
        router.get("/admin-tokens") { _, _ in
            AdminResponse.json(["data": .array(auth.accepted.map(Self.tokenJSON))])
        }
        router.post("/admin-tokens") { request, context in
            var request = request
            var body = try FieldReader(try await request.jsonBody(limit: options.entityBodyLimit))
            let name = try body.string("name")
            let roleText = try body.string("role")
            guard let role = AdminRole(rawValue: roleText) else {
                throw ConfigError.invalid("'\(roleText)' is not a role: use viewer, editor or admin", field: "role")
            }
            try body.finish()
            let (token, secret) = try auth.create(name: name, role: role, by: context.caller.name, at: Self.now(), in: store)
            logger.notice(
                "admin token created", metadata: ["name": "\(name)", "role": "\(role.rawValue)", "by": "\(context.caller.name)", "address": "\(context.clientAddress)"])
            var json = Self.tokenJSON(token).objectValue!
            json["token"] = .string(secret)
            return AdminResponse.json(.object(json), status: .created)
        }
        router.delete("/admin-tokens/:token") { _, context in
            let key = try context.parameters.require("token")
            let revoked = try auth.revoke(key, at: Self.now(), in: store)
            logger.notice(
                "admin token revoked", metadata: ["name": "\(revoked.name)", "by": "\(context.caller.name)", "address": "\(context.clientAddress)"])
            return Response(status: .noContent)
        }
    }

    private static func now() -> Int { Int(Date().timeIntervalSince1970) }

    private static func tokenJSON(_ token: AdminToken) -> JSONValue {
        [
            "id": .string(token.id), "name": .string(token.name), "role": .string(token.role.rawValue), "created_at": .int(token.createdAt),
            "created_by": .string(token.createdBy),
        ]
    }
}
