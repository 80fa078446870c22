import Crypto
import GatehouseModel

/// A consumer as the data plane knows it: enough to forward who is calling.
public final class CompiledConsumer: Sendable {
    public let id: String
    public let name: String
    let customID: String?
    /// What rate limits by consumer count it under.
    let limitKey: String
    /// Its groups, sorted, for `acl` policies.
    let groups: [String]
    /// `X-Consumer-Groups` as an `acl` forwards it: made once per snapshot, not per request.
    let groupsHeader: String
    /// Where its requests count on routes with `consumer_metrics` (`RequestMetrics`).
    let meterSlot: Int

    init(_ consumer: Consumer, meterSlot: Int) {
        self.meterSlot = meterSlot
        id = consumer.id
        name = consumer.name
        customID = consumer.customID
        limitKey = "c:" + consumer.id
        groups = consumer.groups.sorted()
        groupsHeader = groups.joined(separator: ",")
    }
}

/// Every credential of a snapshot: key-auth ones by the SHA-256 of the key (verifying a key is
/// one hash and one dictionary lookup, with no I/O), basic-auth ones by username. Immutable;
/// built once per snapshot.
final class ConsumerDirectory: Sendable {
    /// A SHA-256 digest as four words: hashing it for the dictionary costs next to nothing.
    struct Digest: Hashable, Sendable {
        let words: (UInt64, UInt64, UInt64, UInt64)

        init(_ digest: SHA256.Digest) {
            words = digest.withUnsafeBytes(Self.words)
        }

        /// From the hex form stored in credentials.
        init?(hex: String) {
            guard let bytes = Hex.decode(hex[...]), bytes.count == 32 else { return nil }
            self.init(bytes: bytes)
        }

        /// From 32 bytes (an HMAC-SHA256, say).
        init(bytes: [UInt8]) {
            precondition(bytes.count == 32, "a digest is 32 bytes")
            words = bytes.withUnsafeBytes(Self.words)
        }

        private static func words(_ raw: UnsafeRawBufferPointer) -> (UInt64, UInt64, UInt64, UInt64) {
            (
                raw.loadUnaligned(as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
            )
        }

        /// Lowercase hex, as keys outside the process (Redis) name it.
        var hex: String {
            [words.0, words.1, words.2, words.3].map { word in
                let text = String(word.byteSwapped, radix: 16)
                return String(repeating: "0", count: 16 - text.count) + text
            }.joined()
        }

        static func == (lhs: Digest, rhs: Digest) -> Bool {
            lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(words.0)
            hasher.combine(words.1)
        }
    }

    private let byKey: [Digest: CompiledConsumer]
    /// Every basic-auth credential, by username (unique across consumers).
    private let byUsername: [String: (CompiledConsumer, StoredPassword)]
    let byName: [String: CompiledConsumer]
    let byID: [String: CompiledConsumer]
    private let byCustomID: [String: CompiledConsumer]

    /// - Parameter meters: where consumers' requests count, in name order up to its cap; nil
    ///   (explain, tests) counts them all as `_other`.
    init(_ consumers: [Consumer], meters: RequestMetrics? = nil) {
        var byKey: [Digest: CompiledConsumer] = [:]
        var byName: [String: CompiledConsumer] = [:]
        var byUsername: [String: (CompiledConsumer, StoredPassword)] = [:]
        for (rank, consumer) in consumers.enumerated() {
            let compiled = CompiledConsumer(consumer, meterSlot: meters?.consumerSlot(consumer.name, rank: rank) ?? RequestMetrics.otherConsumer)
            byName[consumer.name] = compiled
            for credential in consumer.credentials {
                switch credential.secret {
                case .keyAuth(let hash): if let digest = Digest(hex: hash) { byKey[digest] = compiled }
                case .basicAuth(let username, let hash): if let stored = StoredPassword(hash) { byUsername[username] = (compiled, stored) }
                }
            }
        }
        self.byKey = byKey
        self.byUsername = byUsername
        self.byName = byName
        byID = Dictionary(byName.values.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        byCustomID = Dictionary(byName.values.compactMap { consumer in consumer.customID.map { ($0, consumer) } }, uniquingKeysWith: { a, _ in a })
    }

    /// The consumer a token's claim names: by `custom_id` (an IdP's user id), else by name.
    func byCustomIDOrName(_ value: String) -> CompiledConsumer? {
        byCustomID[value] ?? byName[value]
    }

    /// The consumer with this basic-auth username, and its stored password.
    func password(ofUsername username: Substring) -> (CompiledConsumer, StoredPassword)? {
        byUsername[String(username)]
    }

    /// The consumer whose key this is, if any.
    func consumer(forKey key: Substring) -> CompiledConsumer? {
        var key = key
        let digest = key.withUTF8 { SHA256.hash(data: $0) }
        return byKey[Digest(digest)]
    }
}
