/// One `host:port` an upstream sends traffic to. The host is an IPv4 address, a bracketed IPv6
/// address or a DNS name (resolved to A/AAAA records). A DNS service name without a port
/// (`_http._tcp.api.service.consul`) is looked up as SRV records, which give hosts and ports.
public struct UpstreamTarget: Sendable, Hashable {
    public var host: String
    /// 0 for a service name: its SRV records give the ports.
    public var port: Int
    public var weight: Int

    /// A service name, looked up as SRV records.
    public var isService: Bool { port == 0 }

    /// An IP address, used as it is; anything else is a name to resolve.
    public var isIPAddress: Bool { host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." } }

    public init(host: String, port: Int, weight: Int = 100) {
        self.host = host
        self.port = port
        self.weight = weight
    }

    public var target: String { isService ? host : host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    static func read(_ value: JSONValue, field: String) throws(ConfigError) -> UpstreamTarget {
        var reader = try FieldReader(value, path: field)
        let text = try reader.string("target")
        let weight = try reader.optionalInt("weight", in: 0...1000) ?? 100
        try reader.finish()
        if text.hasPrefix("_") {
            guard !text.contains(":") else {
                throw .invalid("'\(text)' is a service name: its SRV records give the ports, so it takes none", field: reader.field("target"))
            }
            guard isServiceName(text) else {
                throw .invalid("'\(text)' is not a service name such as _http._tcp.api.service.consul", field: reader.field("target"))
            }
            return UpstreamTarget(host: text.lowercased(), port: 0, weight: weight)
        }
        guard let (host, port) = parse(text) else {
            throw .invalid(
                "'\(text)' is not a target: use host:port, with a port from 1 to 65535, or an SRV service name (_service._proto.name)",
                field: reader.field("target"))
        }
        return UpstreamTarget(host: host, port: port, weight: weight)
    }

    func json() -> JSONValue { ["target": .string(target), "weight": .int(weight)] }

    static func parse(_ text: String) -> (String, Int)? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
            guard host.contains(":"), host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard isHostName(host) else { return nil }
        }
        guard portText.count <= 5, portText.allSatisfy(\.isASCII), let port = Int(portText), (1...65535).contains(port) else { return nil }
        return (host.lowercased(), port)
    }

    /// `_service._proto.name`: two underscore labels before a host name.
    static func isServiceName(_ text: String) -> Bool {
        let labels = text.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard labels.count == 3 else { return false }
        return labels[0..<2].allSatisfy { $0.hasPrefix("_") && isHostName($0.dropFirst()) } && isHostName(labels[2])
    }

    /// An IPv4 address or a DNS name (labels of letters, digits and hyphens).
    static func isHostName(_ host: Substring) -> Bool {
        guard (1...253).contains(host.utf8.count) else { return false }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy {
                    ($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                        || $0 == UInt8(ascii: "-")
                }
        }
    }
}
