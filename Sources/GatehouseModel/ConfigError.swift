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
        self.message = message
        self.field = field
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
