import GatehouseHTTP1
/// What an access log line says of a request beyond its measurements: who asked for what,
/// where it went, who answered. Kept in `RequestMeasure` only while the access log is on.
import NIOHTTP1

struct AccessRecord: Sendable {
    /// Wall-clock nanoseconds since the Unix epoch when the head came.
    let time: Int64
    let client: String
    /// Nil for a request the parser refused before its head was whole.
    let method: String?
    let host: String?
    /// The request target's path as sent (the query is left out: it may hold credentials).
    let path: Substring?
    var requestID: RequestID?
    var route: String?
    var upstream: String?
    var target: String?
    var attempts = 0
    var consumer: String?
    /// The policy that answered the request, if one did.
    var policy: String?
    /// The gateway's error code when it answered itself (`no_route`, `rate_limited`, …).
    var error: String?

    init(_ head: RequestHead, client: String) {
        time = WallClockText.now()
        self.client = client
        method = head.method.rawValue
        host = head.fields.first(name: "host") ?? ""
        let target = head.target
        path = target[..<(target.firstIndex(of: "?") ?? target.endIndex)]
    }

    /// A request refused before its head was whole: only its client is known.
    init(client: String) {
        time = WallClockText.now()
        self.client = client
        (method, host, path) = (nil, nil, nil)
    }
}
