/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `::1/128`, or a bare address, which
/// is a /32 or a /128). Bits of the address past the prefix are ignored (`10.1.2.3/8` is
/// `10.0.0.0/8`), as Linux's `ip route` reads them.
public struct IPRange: Sendable, Hashable, CustomStringConvertible {
    private let network: IPAddress
    private let prefix: Int
    /// The prefix as masks of the two words (an IPv4 network uses the low word's low 32 bits).
    private let highMask: UInt64
    private let lowMask: UInt64
    /// As it was written: descriptions and errors show what the operator wrote.
    private let text: String

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, let address = IPAddress(first) else { return nil }
        let bits = address.isV4 && !first.contains(":") ? 32 : 128
        let prefix: Int?
        if parts.count == 2 {
            // Digits only: `Int("+8")` would take a sign.
            prefix = parts[1].allSatisfy(\.isASCIIDigit) && parts[1].count <= 3 ? Int(parts[1]) : nil
        } else {
            prefix = bits
        }
        guard let prefix, (0...bits).contains(prefix) else { return nil }
        // `::ffff:10.0.0.0/104` is the IPv4 range 10.0.0.0/8.
        let effective = address.isV4 && bits == 128 ? prefix - 96 : prefix
        guard effective >= 0 else { return nil }
        if address.isV4 {
            highMask = 0
            lowMask = effective == 0 ? 0 : (UInt64(0xFFFF_FFFF) << (32 - UInt64(effective))) & 0xFFFF_FFFF
        } else {
            highMask = effective == 0 ? 0 : (effective >= 64 ? ~0 : ~0 << (64 - UInt64(effective)))
            lowMask = effective <= 64 ? 0 : (effective == 128 ? ~0 : ~0 << (128 - UInt64(effective)))
        }
        network = address
        self.prefix = effective
        self.text = String(text)
    }

    public var description: String { text }

    /// Whether `address` is in this range.
    public func contains(_ address: IPAddress) -> Bool {
        address.isV4 == network.isV4 && address.high & highMask == network.high & highMask && address.low & lowMask == network.low & lowMask
    }

    /// Whether `address` (textual IPv4 or IPv6) is in this range. IPv4-mapped IPv6 addresses
    /// match IPv4 ranges.
    public func contains(_ address: String) -> Bool {
        guard let parsed = IPAddress(address) else { return false }
        return contains(parsed)
    }

    public static func == (lhs: IPRange, rhs: IPRange) -> Bool {
        lhs.network.isV4 == rhs.network.isV4 && lhs.prefix == rhs.prefix && lhs.highMask == rhs.highMask
            && lhs.network.high & lhs.highMask == rhs.network.high & rhs.highMask && lhs.network.low & lhs.lowMask == rhs.network.low & rhs.lowMask
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(network.isV4)
        hasher.combine(prefix)
        hasher.combine(network.high & highMask)
        hasher.combine(network.low & lowMask)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
