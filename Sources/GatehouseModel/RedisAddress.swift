/// Where a Redis is and how to log in to it: `redis://[[user]:password@]host:port[/db]`.
public struct RedisAddress: Hashable, Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let user: String?
    public let password: String?
    public let database: Int

    /// Admission validated the URL; nil only for what it refused.
    public init?(_ url: String) {
        guard url.hasPrefix("redis://") else { return nil }
        var rest = url.dropFirst(8)
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard let number = Int(db), number >= 0 else { return nil }
                database = number
            }
            rest = rest[..<slash]
        }
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let login = rest[..<at]
            if let colon = login.firstIndex(of: ":") {
                user = login[..<colon].isEmpty ? nil : String(login[..<colon])
                password = String(login[login.index(after: colon)...])
            } else {
                password = String(login)
            }
            rest = rest[rest.index(after: at)...]
        }
        guard let (host, port) = UpstreamTarget.parse(String(rest)) else { return nil }
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
    }

    /// Without the password: for logs and metrics.
    public var description: String { "redis://\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)" }
}
