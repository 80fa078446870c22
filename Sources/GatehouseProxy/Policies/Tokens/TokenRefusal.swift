/// Why a token policy (`jwt`, `oauth2-introspection`) refused a token: the message, and the
/// reason it is counted under. A refusal is a 401, except when the authorization server could
/// not be asked (`unavailable`, `busy`): that is the gateway's trouble, a 503.
enum TokenRefusal: Error, Sendable, Equatable, CaseIterable {
    case missing
    case tooLarge
    case malformed
    case algorithmNotAccepted
    case criticalHeader
    case unknownKey
    case badSignature
    case expired
    case notYetValid
    case noExpiry
    case wrongIssuer
    case wrongAudience
    case missingScope
    case wrongType
    case claimNotAllowed
    case noConsumer
    /// The authorization server says the token is not active (revoked, expired, unknown).
    case inactive
    /// The authorization server failed or timed out, or its breaker is open, and no answer for
    /// the token was kept.
    case unavailable
    /// Too many tokens wait for a call to the authorization server.
    case busy

    /// Whether the answer is 503 (the token was not judged) rather than 401.
    var isUnavailable: Bool { self == .unavailable || self == .busy }

    var reason: String {
        switch self {
        case .missing: "missing"
        case .tooLarge: "too_large"
        case .malformed: "malformed"
        case .algorithmNotAccepted: "algorithm"
        case .criticalHeader: "crit"
        case .unknownKey: "unknown_key"
        case .badSignature: "signature"
        case .expired: "expired"
        case .notYetValid: "not_yet_valid"
        case .noExpiry: "no_exp"
        case .wrongIssuer: "issuer"
        case .wrongAudience: "audience"
        case .missingScope: "scope"
        case .wrongType: "type"
        case .claimNotAllowed: "claim"
        case .noConsumer: "no_consumer"
        case .inactive: "inactive"
        case .unavailable: "unavailable"
        case .busy: "busy"
        }
    }

    /// Said to the client: what is wrong, never which key or secret was tried.
    var message: String {
        switch self {
        case .missing: "no token: send it as Authorization: Bearer <token>"
        case .tooLarge: "the token is too large"
        case .malformed: "the token is not a well-formed JWS"
        case .algorithmNotAccepted: "the token's algorithm is not accepted"
        case .criticalHeader: "the token requires header extensions the gateway does not understand"
        case .unknownKey, .badSignature: "the token's signature cannot be verified"
        case .expired: "the token has expired"
        case .notYetValid: "the token is not valid yet"
        case .noExpiry: "the token has no expiry (exp)"
        case .wrongIssuer: "the token's issuer is not accepted"
        case .wrongAudience: "the token is not for this audience"
        case .missingScope: "the token lacks a required scope"
        case .wrongType: "the token is not of the required type"
        case .claimNotAllowed: "a claim of the token does not have a required value"
        case .noConsumer: "the token names no known consumer"
        case .inactive: "the token is not active (revoked, expired or unknown to the authorization server)"
        case .unavailable: "the authorization server cannot check the token now"
        case .busy: "too many token checks are waiting for the authorization server"
        }
    }
}
