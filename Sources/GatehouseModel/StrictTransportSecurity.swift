/// A route's HTTP Strict Transport Security (RFC 6797): sent on answers over TLS only, as the
/// RFC requires, so a plain-HTTP client is never told to remember a host it cannot yet reach.
public struct StrictTransportSecurity: Sendable, Hashable {
    /// Two years: the longest preload lists ask for, and far beyond what anyone should pin.
    public static let maxAgeLimit = 63_072_000
    /// What the preload list requires (hstspreload.org): a year, subdomains included.
    static let preloadMinimum = 31_536_000

    public var maxAge: Int
    public var includeSubdomains: Bool
    public var preload: Bool

    static func read(_ reader: FieldReader) throws(ConfigError) -> StrictTransportSecurity {
        var reader = reader
        guard let maxAge = try reader.optionalInt("max_age", in: 0...maxAgeLimit) else { throw reader.missing("max_age") }
        let hsts = StrictTransportSecurity(
            maxAge: maxAge, includeSubdomains: try reader.optionalBool("include_subdomains") ?? false,
            preload: try reader.optionalBool("preload") ?? false)
        if hsts.preload, !hsts.includeSubdomains || hsts.maxAge < preloadMinimum {
            throw .invalid("preload needs include_subdomains and a max_age of at least \(preloadMinimum) (one year)", field: reader.field("preload"))
        }
        try reader.finish()
        return hsts
    }

    func json() -> JSONValue {
        ["max_age": .int(maxAge), "include_subdomains": .bool(includeSubdomains), "preload": .bool(preload)]
    }

    /// The header's value, such as `max-age=31536000; includeSubDomains`.
    public var headerValue: String {
        "max-age=\(maxAge)" + (includeSubdomains ? "; includeSubDomains" : "") + (preload ? "; preload" : "")
    }
}
