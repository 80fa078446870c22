import GatehouseHTTP1
import GatehouseModel
import NIOHTTP1

/// A `key-auth` policy compiled: where keys are read from and who they belong to. Immutable.
public final class KeyAuthPolicy: Sendable {
    public let name: String
    /// Lowercase header names, also read as query parameters.
    let keyNames: [String]
    let hideCredentials: Bool
    let anonymous: CompiledConsumer?
    let consumers: ConsumerDirectory
    /// The 401's message when no key was sent: made once, not per refused request.
    let missingKeyMessage: String
    /// The key headers, when `hide_credentials` keeps them from the upstream.
    let ownHeaders: [String]
    let failures: AuthFailures

    /// Headers a client could send to pass as a consumer (or as one of its groups): always
    /// replaced on a route that authenticates.
    static let identityHeaders = [
        "x-consumer-id", "x-consumer-name", "x-consumer-custom-id", "x-consumer-groups", "x-anonymous-consumer", "x-token-subject", "x-token-scopes",
    ]
    static let challenge = ("www-authenticate", "Key realm=\"gatehouse\"")

    init(name: String, config: JSONValue, consumers: ConsumerDirectory, failures: AuthFailures) {
        self.name = name
        self.failures = failures
        keyNames = config["key_names"]?.arrayValue?.compactMap(\.stringValue) ?? ["apikey"]
        hideCredentials = config["hide_credentials"]?.boolValue ?? true
        anonymous = config["anonymous"]?.stringValue.flatMap { consumers.byName[$0] }
        self.consumers = consumers
        missingKeyMessage = "no API key: send it in the \(keyNames.joined(separator: " or ")) header or query parameter"
        ownHeaders = hideCredentials ? keyNames : []
    }

    /// Where a key was found.
    enum Source: Equatable {
        case header(String)
        case query(String)
    }

    enum Outcome {
        case identified(CompiledConsumer, Source)
        case anonymous(CompiledConsumer, Source?)
        case missing
        case invalid(Source)
    }

    func authenticate(headers: RequestFields, query: Substring?) -> Outcome {
        guard let (key, source) = findKey(headers: headers, query: query) else {
            return anonymous.map { .anonymous($0, nil) } ?? .missing
        }
        if let consumer = consumers.consumer(forKey: key) { return .identified(consumer, source) }
        return anonymous.map { .anonymous($0, source) } ?? .invalid(source)
    }

    private func findKey(headers: RequestFields, query: Substring?) -> (Substring, Source)? {
        for name in keyNames {
            if let value = headers.first(name: name), !value.isEmpty { return (value[...], .header(name)) }
        }
        guard let query else { return nil }
        for name in keyNames {
            if let value = Self.parameter(name, in: query), !value.isEmpty { return (value, .query(name)) }
        }
        return nil
    }

    /// The first value of query parameter `name` (not percent-decoded: keys are visible ASCII).
    static func parameter(_ name: String, in query: Substring) -> Substring? {
        for pair in query.split(separator: "&") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            if pair[..<equals] == name { return pair[pair.index(after: equals)...] }
        }
        return nil
    }

    /// The query without parameter `name`, or nil when nothing is left.
    static func removing(_ name: String, from query: Substring) -> Substring? {
        let kept = query.split(separator: "&").filter { pair in
            (pair.firstIndex(of: "=").map { pair[..<$0] } ?? pair) != name
        }
        return kept.isEmpty ? nil : kept.joined(separator: "&")[...]
    }
}
