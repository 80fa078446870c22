import Atomics
import GatehouseModel

/// Why an authentication policy answered 401.
enum AuthFailure: Hashable, Sendable {
    /// No credential of the policy's kind was sent.
    case missing
    /// key-auth: the key belongs to no consumer.
    case invalidKey
    /// basic-auth: an unknown username or a wrong password.
    case wrongPassword
    /// basic-auth: `Authorization: Basic` that does not decode to a pair.
    case malformed
    /// jwt, oauth2-introspection: the token was refused.
    case token(TokenRefusal)

    /// The reasons `/metrics` lists for a policy type, zero or not.
    static func reasons(_ type: PolicyType) -> [AuthFailure] {
        switch type {
        case .keyAuth: [.missing, .invalidKey]
        case .basicAuth: [.missing, .wrongPassword, .malformed]
        case .jwt: [.missing] + PolicyMetrics.jwtReasons.filter { $0 != .missing }.map(AuthFailure.token)
        default: [.missing] + PolicyMetrics.introspectionReasons.filter { !$0.isUnavailable }.map(AuthFailure.token)
        }
    }

    var index: Int {
        switch self {
        case .missing: 0
        case .invalidKey: 1
        case .wrongPassword: 2
        case .malformed: 3
        case .token(let refusal): 4 + TokenRefusal.allCases.firstIndex(of: refusal)!
        }
    }

    static let count = 4 + TokenRefusal.allCases.count

    var label: String {
        switch self {
        case .missing: "missing"
        case .invalidKey: "invalid_key"
        case .wrongPassword: "wrong_password"
        case .malformed: "malformed"
        case .token(let refusal): refusal.reason
        }
    }
}

/// One authentication policy's 401s by reason (`gatehouse_auth_failures_total{policy,reason}`):
/// found by the policy's name when a snapshot compiles and kept across snapshots, so a refusal
/// is one relaxed increment and a counter never goes back.
final class AuthFailures: Sendable {
    let policy: String
    let type: PolicyType
    private let counts = (0..<AuthFailure.count).map { _ in ManagedAtomic(0) }

    init(policy: String, type: PolicyType) {
        self.policy = policy
        self.type = type
    }

    func count(_ failure: AuthFailure) {
        counts[failure.index].wrappingIncrement(ordering: .relaxed)
    }

    func value(_ failure: AuthFailure) -> Int {
        counts[failure.index].load(ordering: .relaxed)
    }
}
