/// The one error type of config handling. Each case maps to one HTTP status in the admin API
/// (see `ConfigError.Code`); `field` names the offending field as a dotted path when known.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalid = "invalid"
        case notFound = "not_found"
        case conflict = "conflict"
        case referenced = "referenced"
        case preconditionFailed = "precondition_failed"
        case tooLarge = "too_large"
    }

    public let code: Code
    public let message: String
    public let field: String?

    public init(code: Code, message: String, field: String? = nil) {
        self.code = code
        self.message = Self.capped(message)
        self.field = field.map { Self.capped($0, at: Self.longestQuote) }
    }

    /// Messages quote what they refuse (`'…' is not a valid tag`); a value is shown up to this
    /// many bytes, so a 60 MB tag does not make a 60 MB answer (or log line).
    static let longestQuote = 160

    /// Each `'quoted'` run longer than `longestQuote` cut to its start and its length, and the
    /// whole message to a few of those.
    static func capped(_ message: String, at limit: Int = 4 * longestQuote) -> String {
        guard message.utf8.count > longestQuote else { return message }
        var result = ""
        var rest = Substring(message)
        while let open = rest.firstIndex(of: "'"), let close = rest[rest.index(after: open)...].firstIndex(of: "'") {
            let quoted = rest[rest.index(after: open)..<close]
            result += rest[...open]
            if quoted.utf8.count > longestQuote {
                result += quoted.prefix(64) + "…(\(quoted.utf8.count) bytes)"
            } else {
                result += quoted
            }
            result += "'"
            rest = rest[rest.index(after: close)...]
        }
        result += rest
        guard result.utf8.count > limit else { return result }
        return String(result.prefix(limit)) + "…"
    }

    public static func invalid(_ message: String, field: String? = nil) -> ConfigError {
        ConfigError(code: .invalid, message: message, field: field)
    }

    public static func notFound(_ kind: EntityKind, _ key: String) -> ConfigError {
        ConfigError(code: .notFound, message: "no \(kind.singular) named or with id '\(key)'")
    }

    public var description: String {
        field.map { "\($0): \(message)" } ?? message
    }
}
