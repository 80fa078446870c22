import NIOCore

extension SocketAddress {
    /// `127.0.0.1:8000` or `[::1]:8000`, as logs and users write addresses.
    public var display: String {
        let host = ipAddress ?? "?"
        return host.contains(":") ? "[\(host)]:\(port ?? 0)" : "\(host):\(port ?? 0)"
    }
}
