import GatehouseHTTP1
import GatehouseModel
import NIOHTTP1

/// A `basic-auth` policy compiled: `Authorization: Basic` checked against the consumers'
/// basic-auth credentials. A pair checked good within `cache_ttl` decides at once; otherwise the
/// password is checked on `PasswordChecker`'s pool (`check`), and the request waits for it
/// without holding its event loop. Immutable.
final class BasicAuthPolicy: Sendable {
    let name: String
    let hideCredentials: Bool
    let anonymous: CompiledConsumer?
    let consumers: ConsumerDirectory
    let checker: PasswordChecker
    let challenge: (String, String)
    let failures: AuthFailures

    init(name: String, config: JSONValue, consumers: ConsumerDirectory, checker: PasswordChecker, failures: AuthFailures) {
        self.name = name
        self.failures = failures
        hideCredentials = config["hide_credentials"]?.boolValue ?? true
        anonymous = config["anonymous"]?.stringValue.flatMap { consumers.byName[$0] }
        self.consumers = consumers
        self.checker = checker
        challenge = ("www-authenticate", "Basic realm=\"\(config["realm"]?.stringValue ?? "gatehouse")\", charset=\"UTF-8\"")
    }

    /// A password to check on the pool: the consumer it would identify (none for an unknown
    /// username, checked against a decoy all the same).
    struct Check {
        let password: Substring
        let stored: StoredPassword
        let consumer: CompiledConsumer?
        let key: ConsumerDirectory.Digest
    }

    enum Refusal: Equatable {
        case malformed
        case wrongPassword
        /// The client failed too often this minute (429).
        case throttled
        /// Too many checks wait for the pool (503).
        case busy

        var message: String {
            switch self {
            case .malformed: "the Authorization header is not Basic credentials (base64 of username:password)"
            case .wrongPassword: "the username or password is not valid"
            case .throttled: "too many failed attempts from this address: try again in a minute"
            case .busy: "too many password checks are waiting"
            }
        }

        var reason: String {
            switch self {
            case .malformed: "malformed"
            case .wrongPassword: "wrong_password"
            case .throttled: "throttled"
            case .busy: "busy"
            }
        }
    }

    enum Outcome {
        case identified(CompiledConsumer)
        case missing
        case refused(Refusal)
        case check(Check)
    }

    /// - Parameter checked: the pool's answer for this request's password, once it is in.
    func authenticate(headers: RequestFields, client: String, checked: PasswordChecker.Result?) -> Outcome {
        guard let value = headers.first(name: "authorization"), let encoded = Self.credentials(value) else { return .missing }
        guard let decoded = Base64URL.decodeStandard(encoded.utf8), let text = String(validating: decoded, as: UTF8.self),
            let colon = text.firstIndex(of: ":")
        else { return .refused(.malformed) }
        let found = consumers.password(ofUsername: text[..<colon])
        switch checked {
        case .matched?: return found.map { .identified($0.0) } ?? .refused(.wrongPassword)
        case .mismatched?: return .refused(.wrongPassword)
        case .busy?: return .refused(.busy)
        case nil: break
        }
        // Before anything is looked up: a client over its limit learns nothing, not even that a
        // guess was right.
        guard !checker.refuses(client) else { return .refused(.throttled) }
        let password = text[text.index(after: colon)...]
        let key = checker.key(username: text[..<colon], password: password)
        if let (consumer, stored) = found, checker.remembers(key, stored: stored.text) { return .identified(consumer) }
        return .check(Check(password: password, stored: found?.1 ?? StoredPassword.decoy, consumer: found?.0, key: key))
    }

    /// The credentials of `Basic <credentials>`, the scheme in any case (RFC 7617).
    static func credentials(_ value: String) -> Substring? {
        // Compared byte by byte in place: on every request of the route, no array made.
        guard value.utf8.count > 6, zip(value.utf8, "basic ".utf8).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        let rest = value.utf8.dropFirst(6).drop { $0 == UInt8(ascii: " ") }
        return rest.isEmpty ? nil : Substring(rest)
    }
}
