import Crypto
import NIOConcurrencyHelpers

/// Tokens a policy has verified, by the SHA-256 of the token, each until its own expiry: a token
/// sent again costs a hash and a lookup, not a signature check. Bounded: when full, an entry is
/// dropped to make room (expired ones first as they are met). Shared by the event loops of a data
/// plane and, through `PolicyState`, by the snapshots that hold the same policy. Thread-safe.
final class TokenCache: Sendable {
    /// What a verified token lets through, as the policy needs it on each request.
    struct Entry: Sendable {
        /// Seconds since the epoch after which the token is no longer used (its `exp` plus the
        /// leeway); nil for a token without `exp` (accepted only when the policy allows it).
        let usableUntil: Int64?
        /// The key set's generation it was verified with (`JWKSSource`): a token of a key the
        /// provider removed is not trusted from the cache either.
        let generation: Int
        let claims: VerifiedClaims
    }

    private let capacity: Int
    private let entries = NIOLockedValueBox<[ConsumerDirectory.Digest: Entry]>([:])

    init(capacity: Int) {
        self.capacity = capacity
    }

    static func key(_ token: Substring) -> ConsumerDirectory.Digest {
        var token = token
        return ConsumerDirectory.Digest(token.withUTF8 { SHA256.hash(data: $0) })
    }

    func lookup(_ key: ConsumerDirectory.Digest, now: Int64, generation: Int) -> VerifiedClaims? {
        entries.withLockedValue { entries in
            guard let entry = entries[key] else { return nil }
            if entry.generation != generation || entry.usableUntil.map({ now > $0 }) == true {
                entries[key] = nil
                return nil
            }
            return entry.claims
        }
    }

    func store(_ key: ConsumerDirectory.Digest, _ entry: Entry) {
        guard capacity > 0 else { return }
        entries.withLockedValue { entries in
            if entries.count >= capacity, entries[key] == nil, let victim = entries.keys.first { entries[victim] = nil }
            entries[key] = entry
        }
    }

    var count: Int { entries.withLockedValue { $0.count } }
}
