import NIOCore

/// Closing a client connection the gateway answered while the client may still be sending (a
/// body over the limit, a request the parser refused): its output is shut first, and what the
/// client still sends is read and dropped until it closes, goes quiet for `idle`, or `total`
/// passes. Closing at once would make the kernel answer the unread bytes with a reset, which
/// discards the gateway's answer (413, 400) before the client reads it. nginx calls this
/// `lingering_close` and uses the same 5 s and 30 s.
struct LingeringClose {
    private let until: NIODeadline
    private let idle: TimeAmount
    /// When to give up on the client, as of the last bytes it sent.
    private(set) var deadline: NIODeadline

    init(now: NIODeadline, idle: TimeAmount, total: TimeAmount) {
        self.until = now + total
        self.idle = idle
        deadline = min(now + idle, until)
    }

    mutating func bytesArrived(now: NIODeadline) {
        deadline = min(now + idle, until)
    }
}
