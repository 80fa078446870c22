/// A value a request or response transform writes: literal text with variables in it,
/// `$(consumer.name)`, `$(consumer.id)`, `$(consumer.custom_id)`, `$(route.name)` and
/// `$(path.NAME)` (a parameter the route's path template captures). Parsed at admission, so an
/// unknown variable is refused there and never reaches a data plane. Immutable.
public struct TransformTemplate: Sendable, Hashable {
    public enum Part: Sendable, Hashable {
        case literal(String)
        case consumerName
        case consumerID
        case consumerCustomID
        case routeName
        case path(String)
    }

    public let parts: [Part]

    /// The value when it has no variables: written as is, with nothing to work out per request.
    public var constant: String? {
        switch parts.count {
        case 0: ""
        case 1: if case .literal(let text) = parts[0] { text } else { nil }
        default: nil
        }
    }

    /// The path parameters it names, in order.
    public var pathParameters: [String] {
        parts.compactMap { if case .path(let name) = $0 { name } else { nil } }
    }

    /// Parses `text`. `$(` always opens a variable; a `$` not followed by `(` is literal.
    /// Throws a message (the caller adds the field) for an unknown or unclosed variable and for
    /// a control character: nothing a transform writes may contain CR, LF or NUL, which would
    /// end a header line early and let the config smuggle another one.
    public init(_ text: String) throws(ConfigError) {
        if let bad = text.unicodeScalars.first(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) {
            throw .invalid("must not contain control characters (found U+\(String(bad.value, radix: 16, uppercase: true)))")
        }
        var parts: [Part] = []
        var literal = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            let after = rest.index(after: dollar)
            guard after < rest.endIndex, rest[after] == "(" else {
                literal += rest[...dollar]
                rest = rest[after...]
                continue
            }
            literal += rest[..<dollar]
            guard let close = rest[after...].firstIndex(of: ")") else {
                throw .invalid("'\(rest[dollar...])' opens a variable with $( and does not close it")
            }
            let name = rest[rest.index(after: after)..<close]
            let part: Part
            switch name {
            case "consumer.name": part = .consumerName
            case "consumer.id": part = .consumerID
            case "consumer.custom_id": part = .consumerCustomID
            case "route.name": part = .routeName
            default:
                guard name.hasPrefix("path."), RoutePath.isParameterName(String(name.dropFirst(5))) else {
                    throw .invalid(
                        "'$(\(name))' is not a variable: use $(consumer.name), $(consumer.id), $(consumer.custom_id), $(route.name) or $(path.NAME)")
                }
                part = .path(String(name.dropFirst(5)))
            }
            if !literal.isEmpty { parts.append(.literal(literal)) }
            literal = ""
            parts.append(part)
            rest = rest[rest.index(after: close)...]
        }
        literal += rest
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }
}
