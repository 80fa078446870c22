import Foundation
import Crypto
import GatehouseModel
import GatehouseStore
import HTTPTypes
import Hummingbird
import Synchronization

/// Who may use the admin API: tokens with a role, sent as `Authorization: Bearer`. A token is
/// `gh_<id>_<secret>`; the store keeps its id, name, role and the SHA-256 of its secret, and the
/// secret's digest is compared in constant time. A bootstrap token from the environment
/// (`GATEHOUSE_ADMIN_TOKEN`, or a file) has the admin role and the name `bootstrap`, for the first
/// start; it can be revoked like any other. Accepted tokens are kept in memory, loaded when the
/// control plane becomes the database's writer and changed with every create and revoke.
public final class AdminAuth: Sendable {
    public struct Settings: Sendable {
        /// Off: every request acts as `local` with every role (the admin API on loopback).
        public var enabled: Bool
        /// The bootstrap token's secret, whole (any text of 16 bytes or more).
        public var bootstrap: String?

        public init(enabled: Bool, bootstrap: String? = nil) {
            self.enabled = enabled
            self.bootstrap = bootstrap
        }
    }

    enum Verdict {
        case caller(AdminCaller)
        case refused(String)
    }

    static let bootstrapName = "bootstrap"
    /// Names the audit trail uses for changes no token made.
    static let reservedNames: Set<String> = [bootstrapName, "local", "config-dir", "rollback", "unknown"]

    let enabled: Bool
    private let bootstrapDigest: [UInt8]?
    private let bootstrapRevoked: Mutex<Bool>
    private let tokens: Mutex<[String: AdminToken]>
    /// Creates and revokes one at a time: two admins revoking each other at once must not both pass the last-admin check.
    private let changing = Mutex(())
    let throttle = AdminFailureThrottle()

    public init(_ settings: Settings, store: ConfigStore) throws {
        enabled = settings.enabled
        let all = try store.adminTokens()
        tokens = Mutex(Dictionary(all.filter { $0.revokedAt == nil }.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }))
        let digest = settings.bootstrap.map { Array(SHA256.hash(data: Array($0.utf8))) }
        bootstrapDigest = digest
        let hex = digest.map(Credential.hex)
        bootstrapRevoked = Mutex(all.contains { $0.name == Self.bootstrapName && $0.hash == hex && $0.revokedAt != nil })
    }

    /// Whether some token can pass: an accepted token, or a bootstrap token not revoked.
    public var anyTokenAccepted: Bool {
        (bootstrapDigest != nil && !bootstrapRevoked.withLock { $0 }) || !tokens.withLock { $0.isEmpty }
    }

    /// Whether the bootstrap token was given but is revoked (it is then refused like a wrong one).
    public var bootstrapIsRevoked: Bool { bootstrapDigest != nil && bootstrapRevoked.withLock { $0 } }

    func authenticate(_ authorization: String?) -> Verdict {
        guard let authorization else { return .refused("no admin token: send it as Authorization: Bearer <token>") }
        let parts = authorization.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            return .refused("the Authorization header is not a bearer token: send Authorization: Bearer <token>")
        }
        let presented = parts[1]
        if let (id, secret) = Self.split(presented), let token = tokens.withLock({ $0[id] }), let stored = Self.bytes(hex: token.hash),
            Self.equal(Array(SHA256.hash(data: Array(secret.utf8))), stored)
        {
            return .caller(AdminCaller(name: token.name, role: token.role))
        }
        if let bootstrapDigest, Self.equal(Array(SHA256.hash(data: Array(presented.utf8))), bootstrapDigest), !bootstrapRevoked.withLock({ $0 }) {
            return .caller(AdminCaller(name: Self.bootstrapName, role: .admin))
        }
        return .refused("the admin token is not valid (unknown, revoked or mistyped)")
    }

    /// The role a request needs: admin tokens need `admin`; reads, `explain` and dry runs
    /// `viewer`; every other write `editor`.
    static func requiredRole(_ request: Request) -> AdminRole {
        let path = request.uri.path
        // By the first segment as any spelling the router might match would have it (`//x`,
        // `/x/`, percent-encoded, any case): a path that reaches the tokens is always theirs.
        let first = path.split(separator: "/").first.map { ($0.removingPercentEncoding ?? String($0)).lowercased() }
        if first == "admin-tokens" { return .admin }
        switch request.method {
        case .get, .head: return .viewer
        case .post where path == "/explain": return .viewer
        // The handler reads `dry_run` with the same function: what passes here as a dry run is one.
        case .put where path == "/config" && ((try? AdminAPI.flag(request, "dry_run")) ?? false): return .viewer
        default: return .editor
        }
    }

    /// Makes a token: its record and the whole token, shown once.
    func create(name: String, role: AdminRole, by creator: String, at now: Int, in store: ConfigStore) throws -> (AdminToken, String) {
        try EntityName.validate(name, field: "name")
        guard !Self.reservedNames.contains(name) else { throw ConfigError.invalid("'\(name)' is reserved for the audit trail", field: "name") }
        let id = Self.randomHex(bytes: 8)
        let secret = Self.randomHex(bytes: 32)
        let token = AdminToken(
            id: id, name: name, role: role, hash: Credential.hashKey(secret), createdAt: now, createdBy: creator)
        try store.addAdminToken(token)
        tokens.withLock { $0[id] = token }
        return (token, "gh_\(id)_\(secret)")
    }

    /// Revokes a token by id or name (`bootstrap` for the bootstrap token). Refused for the last
    /// admin token (the bootstrap one counts): nobody could manage tokens after it.
    func revoke(_ idOrName: String, at now: Int, in store: ConfigStore) throws -> AdminToken {
        try changing.withLock { _ in try revokeAlone(idOrName, at: now, in: store) }
    }

    private func revokeAlone(_ idOrName: String, at now: Int, in store: ConfigStore) throws -> AdminToken {
        let accepted = tokens.withLock { Array($0.values) }
        let bootstrapAccepted = bootstrapDigest != nil && !bootstrapRevoked.withLock { $0 }
        let target = accepted.first { $0.id == idOrName } ?? accepted.first { $0.name == idOrName }
        let isBootstrap = target == nil && idOrName == Self.bootstrapName && bootstrapAccepted
        guard target != nil || isBootstrap else { throw ConfigError(code: .notFound, message: "no accepted admin token '\(idOrName)'") }
        let admins = accepted.filter { $0.role == .admin && $0.id != target?.id }.count + (bootstrapAccepted && !isBootstrap ? 1 : 0)
        guard admins > 0 || (target.map { $0.role != .admin } ?? false) else {
            throw ConfigError(
                code: .conflict, message: "revoking '\(idOrName)' would leave no admin token; create another admin token first")
        }
        if let target {
            guard let revoked = try store.revokeAdminToken(target.id, at: now) else {
                throw ConfigError(code: .notFound, message: "no accepted admin token '\(idOrName)'")
            }
            tokens.withLock { $0[target.id] = nil }
            return revoked
        }
        let record = AdminToken(
            id: "bootstrap-" + Self.randomHex(bytes: 4), name: Self.bootstrapName, role: .admin, hash: Credential.hex(bootstrapDigest!), createdAt: now,
            createdBy: "environment", revokedAt: now)
        try store.addAdminToken(record)
        bootstrapRevoked.withLock { $0 = true }
        return record
    }

    /// The accepted tokens, with the bootstrap one first when it is accepted.
    var accepted: [AdminToken] {
        let stored = tokens.withLock { Array($0.values) }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        guard bootstrapDigest != nil, !bootstrapRevoked.withLock({ $0 }) else { return stored }
        return [AdminToken(id: Self.bootstrapName, name: Self.bootstrapName, role: .admin, hash: "", createdAt: 0, createdBy: "environment")] + stored
    }

    private static func split(_ token: Substring) -> (id: String, secret: Substring)? {
        let parts = token.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "gh", parts[1].utf8.count == 16, parts[2].utf8.count == 64 else { return nil }
        return (String(parts[1]), parts[2])
    }

    /// Compares two digests in time that depends only on their length.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    private static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = PercentDecoding.hexValue(digits[index]), let low = PercentDecoding.hexValue(digits[index + 1]) else { return nil }
            out.append(high << 4 | low)
        }
        return out
    }

    private static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return Credential.hex((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}

extension AdminAuth {
    /// Authentication is on and no token can pass: the admin API would refuse everyone.
    public struct Unusable: Error, CustomStringConvertible {
        let bootstrapRevoked: Bool

        public init(bootstrapRevoked: Bool) {
            self.bootstrapRevoked = bootstrapRevoked
        }

        public var description: String {
            bootstrapRevoked
                ? "admin authentication is on, the bootstrap token (GATEHOUSE_ADMIN_TOKEN) was revoked and no other admin token exists: set GATEHOUSE_ADMIN_TOKEN to a new secret to get in again"
                : "admin authentication is on but no admin token exists yet: set GATEHOUSE_ADMIN_TOKEN (or --admin-token-file) to a secret of 16 characters or more for the first start, then create tokens with `gatehouse admin-token create`"
        }
    }
}
