/// Why a `jwt` policy refused a token: the 401's message, and the reason it is counted under.
enum JWTRefusal: Error, Sendable, Equatable, CaseIterable {
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
        }
    }
}
