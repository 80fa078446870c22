/// How `gatehouse import openapi` maps a spec: its name, where its upstream is, and which
/// gateway paths its operations get.
public struct OpenAPIImportOptions: Sendable, Equatable {
    /// Where an operation is served, relative to the server URL's path (`/api/v3` in
    /// `https://api.example.com/api/v3`).
    public enum BasePath: Sendable, Equatable {
        /// The gateway path is the server's path + the operation's, forwarded as it is.
        case keep
        /// The gateway path is the operation's alone; the upstream still gets the server's path.
        case strip
        /// The gateway path is this prefix + the operation's; the upstream gets the server's path.
        case prefix(String)

        /// `keep`, `strip` or `prefix=/x`.
        public init?(argument: String) {
            switch argument {
            case "keep": self = .keep
            case "strip": self = .strip
            default:
                guard argument.hasPrefix("prefix=/") else { return nil }
                var prefix = String(argument.dropFirst("prefix=".count))
                while prefix.hasSuffix("/") { prefix.removeLast() }
                self = .prefix(prefix)
            }
        }
    }

    /// The import's name (entity-name grammar): names its entities and its tag `openapi:<name>`.
    /// Default: the document's `x-gatehouse.name`, else its `info.title`.
    public var name: String?
    /// An upstream the config already has: every operation goes there.
    public var upstream: String?
    /// A server URL to use instead of every server the spec lists.
    public var server: String?
    /// Values for the server URL's `{variables}`, over their defaults.
    public var serverVariables: [String: String] = [:]
    public var basePath: BasePath = .keep
    /// Every warning (a security requirement not enforced, a path segment matched more broadly
    /// than the spec says, a query in a path) is an error instead.
    public var strict = false
    /// Every operation gets a `request-validation` policy derived from its parameters and JSON
    /// body (`x-gatehouse.validate: false` turns it off for some).
    public var validate = false

    public init() {}
}
