import Crypto

/// A secret that identifies a consumer. Secrets are hashed on creation: only the hash is stored,
/// put in snapshots or returned afterwards.
public struct Credential: Sendable, Hashable {
    public enum Secret: Sendable, Hashable {
        /// SHA-256 of the key, hex. Keys are long random strings, so a fast hash is enough and
        /// lets the data plane find the consumer with one dictionary lookup.
        case keyAuth(keyHash: String)
        /// PBKDF2-HMAC-SHA256 of the password (`pbkdf2-sha256$iterations$salt$hash`, hex).
        case basicAuth(username: String, passwordHash: String)
    }

    public static let types = ["key-auth", "basic-auth"]

    public var id: String
    public var tags: [String]
    public var secret: Secret

    public init(id: String, tags: [String] = [], secret: Secret) {
        self.id = id
        self.tags = tags
        self.secret = secret
    }

    public var type: String {
        switch secret {
        case .keyAuth: "key-auth"
        case .basicAuth: "basic-auth"
        }
    }

    /// The value a type must keep unique across all consumers (key hash, or username).
    public var uniqueKey: String {
        switch secret {
        case .keyAuth(let hash): "key-auth:\(hash)"
        case .basicAuth(let username, _): "basic-auth:\(username)"
        }
    }

    /// A credential as created through the admin API: the clear secret is hashed here. Returns the
    /// credential and the clear key (generated when none was given) to show once.
    public static func create(
        _ value: JSONValue, id: String, randomKey: () -> String
    ) throws(ConfigError) -> (Credential, clearKey: String?) {
        var reader = try FieldReader(value)
        let type = try reader.string("type")
        let tags = try EntityName.normalizedTags(reader.optionalStrings("tags"), field: "tags")
        if let given = reader.value("id"), given != .string(id) {
            throw .invalid("is assigned by the server and cannot be set or changed", field: "id")
        }
        switch type {
        case "key-auth":
            let key = try reader.optionalString("key") ?? randomKey()
            guard (16...512).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw .invalid("must be 16 to 512 visible ASCII characters (omit it to have one generated)", field: "key")
            }
            try reader.finish()
            return (Credential(id: id, tags: tags, secret: .keyAuth(keyHash: hashKey(key))), key)
        case "basic-auth":
            let username = try reader.string("username")
            let password = try reader.string("password")
            guard (1...256).contains(username.utf8.count), !username.contains(":") else {
                throw .invalid("must be 1 to 256 bytes without ':'", field: "username")
            }
            guard (8...1024).contains(password.utf8.count) else { throw .invalid("must be 8 to 1024 bytes", field: "password") }
            try reader.finish()
            let salt = (0..<16).map { _ in UInt8.random(in: 0...255) }
            let hash = PasswordHash.derive(password: password, salt: salt, iterations: PasswordHash.iterations)
            let stored = "pbkdf2-sha256$\(PasswordHash.iterations)$\(hex(salt))$\(hex(hash))"
            return (Credential(id: id, tags: tags, secret: .basicAuth(username: username, passwordHash: stored)), nil)
        default:
            throw .invalid("must be one of \(types.joined(separator: ", "))", field: "type")
        }
    }

    /// Reads the document form: hashes as stored (`key_hash`, `password_hash`), or a key-auth
    /// `key` in clear, hashed here. `id` may be left out (filled in by `adoptIdentities`).
    public static func readDocument(_ value: JSONValue, path: String) throws(ConfigError) -> Credential {
        var reader = try FieldReader(value, path: path)
        let id = try reader.optionalString("id") ?? ""
        guard id.isEmpty || EntityName.isUUID(id) else { throw .invalid("'\(id)' is not a lowercase UUID", field: reader.field("id")) }
        let tags = try EntityName.normalizedTags(reader.optionalStrings("tags"), field: reader.field("tags"))
        let type = try reader.string("type")
        let secret: Secret
        switch type {
        case "key-auth":
            if let key = try reader.optionalString("key") {
                guard (16...512).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                    throw .invalid("must be 16 to 512 visible ASCII characters", field: reader.field("key"))
                }
                if reader.keys.contains("key_hash") { throw .invalid("give key or key_hash, not both", field: reader.field("key_hash")) }
                secret = .keyAuth(keyHash: hashKey(key))
            } else {
                let hash = try reader.string("key_hash")
                guard hash.utf8.count == 64, hash.allSatisfy(\.isHexDigit) else {
                    throw .invalid("is not a SHA-256 hex digest", field: reader.field("key_hash"))
                }
                secret = .keyAuth(keyHash: hash.lowercased())
            }
        case "basic-auth":
            let username = try reader.string("username")
            if reader.keys.contains("password") {
                throw .invalid(
                    "a config document carries basic-auth passwords hashed (password_hash); create the credential through /consumers/{c}/credentials to have one hashed",
                    field: reader.field("password")
                )
            }
            let hash = try reader.string("password_hash")
            let parts = hash.split(separator: "$", omittingEmptySubsequences: false)
            func isHex(_ part: Substring, bytes: ClosedRange<Int>) -> Bool {
                bytes.contains(part.utf8.count / 2) && part.utf8.count % 2 == 0 && part.allSatisfy(\.isHexDigit)
            }
            guard parts.count == 4, parts[0] == "pbkdf2-sha256", isHex(parts[2], bytes: 8...64), isHex(parts[3], bytes: 32...32) else {
                throw .invalid("is not a pbkdf2-sha256 hash (pbkdf2-sha256$ITERATIONS$SALT$HASH, hex)", field: reader.field("password_hash"))
            }
            // Fewer iterations would make the hash cheap to guess; more, each check a denial of service.
            guard let iterations = Int(parts[1]), PasswordHash.acceptedIterations.contains(iterations) else {
                throw .invalid(
                    "must use \(PasswordHash.acceptedIterations.lowerBound) to \(PasswordHash.acceptedIterations.upperBound) iterations",
                    field: reader.field("password_hash"))
            }
            secret = .basicAuth(username: username, passwordHash: hash)
        default:
            throw .invalid("must be one of \(types.joined(separator: ", "))", field: reader.field("type"))
        }
        try reader.finish()
        return Credential(id: id, tags: tags, secret: secret)
    }

    public func json() -> JSONValue {
        var fields: [String: JSONValue] = ["id": .string(id), "type": .string(type), "tags": .array(tags.map(JSONValue.string))]
        switch secret {
        case .keyAuth(let hash): fields["key_hash"] = .string(hash)
        case .basicAuth(let username, let hash):
            fields["username"] = .string(username)
            fields["password_hash"] = .string(hash)
        }
        return .object(fields)
    }

    /// The admin API form: no secret, not even its hash; `consumer` named when given.
    public func publicJSON(consumer: String? = nil) -> JSONValue {
        var fields: [String: JSONValue] = ["id": .string(id), "type": .string(type), "tags": .array(tags.map(JSONValue.string))]
        if let consumer { fields["consumer"] = .string(consumer) }
        if case .basicAuth(let username, _) = secret { fields["username"] = .string(username) }
        return .object(fields)
    }

    public static func hashKey(_ key: String) -> String {
        hex(Array(SHA256.hash(data: Array(key.utf8))))
    }

    /// Lowercase hex of `bytes`.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
