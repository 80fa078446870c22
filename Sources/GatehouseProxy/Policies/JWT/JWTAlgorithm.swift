/// The signature algorithms a `jwt` policy can accept (RFC 7518, RFC 8037 for EdDSA).
enum JWTAlgorithm: String, Sendable, CaseIterable {
    case rs256 = "RS256", rs384 = "RS384", rs512 = "RS512"
    case ps256 = "PS256", ps384 = "PS384", ps512 = "PS512"
    case es256 = "ES256", es384 = "ES384", es512 = "ES512"
    case edDSA = "EdDSA"
    case hs256 = "HS256", hs384 = "HS384", hs512 = "HS512"

    enum Hash { case sha256, sha384, sha512 }

    var hash: Hash {
        switch self {
        case .rs256, .ps256, .es256, .hs256, .edDSA: .sha256
        case .rs384, .ps384, .es384, .hs384: .sha384
        case .rs512, .ps512, .es512, .hs512: .sha512
        }
    }
}
