import GatehouseModel
import NIOCore

/// Edge rules of the data plane that are not part of a snapshot: set per process by flags.
public struct ProxyOptions: Sendable {
    /// Request line and headers over this many bytes get 431.
    public var maxHeaderBytes = 32 * 1024
    /// Requests with more header fields than this get 431 (Envoy's `max_headers_count` is 100).
    public var maxHeaderCount = 100
    /// Request bodies over this many bytes get 413; nil for no limit.
    public var maxBodyBytes: Int?
    /// `TRACE` requests are forwarded instead of refused with 405.
    public var allowsTrace = false
    /// Header names with `_` are passed on both ways instead of dropped (some servers read `_` as
    /// `-`, which lets a client slip a header past a check made on the `-` name).
    public var allowsUnderscoreHeaders = false
    /// Peers whose `X-Forwarded-*`, `Forwarded` and `X-Real-IP` are kept and appended to.
    public var trustedProxies: [IPRange] = []
    /// How long a client may take to send a complete request head once it started one.
    public var headerTimeout: TimeAmount = .seconds(10)
    /// How long a request body may go without a byte from the client (not counting time the
    /// gateway itself stops reading it).
    public var bodyTimeout: TimeAmount = .seconds(60)
    /// How long an idle keep-alive client connection is kept open.
    public var idleTimeout: TimeAmount = .seconds(60)
    /// After an answer sent while the client was still sending (see `ClientTimeouts.linger`): how long
    /// its further bytes are read and dropped, as of the last ones, and at most in all.
    public var lingerTimeout: TimeAmount = .seconds(5)
    public var lingerTime: TimeAmount = .seconds(30)
    /// Client connections open at once, over all workers; past it new clients wait in the
    /// backlog to be accepted. Nil: half of what the descriptor limit leaves after a reserve.
    public var maxConnections: Int?
    /// During a drain, how long a keep-alive connection between requests is kept for its next
    /// request (answered with `Connection: close`) before it is closed.
    public var drainIdleGrace: TimeAmount = .seconds(1)
    /// The TLS listener's port, where routes with `https_redirect` send plain-HTTP clients (asked
    /// at each redirect: a listener on port 0 knows its port once bound); nil when this data
    /// plane has none, and the redirect names https's default port.
    public var httpsPort: @Sendable () -> Int? = { nil }
    /// How long a drain waits for open connections before cutting them.
    public var drainTimeout: TimeAmount = .seconds(30)

    public init() {}
}
