#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as two 64-bit words, parsed once: checking it against many ranges
/// is masks and compares, with no allocation. IPv4 addresses, and IPv4-mapped IPv6 ones
/// (`::ffff:10.0.0.1`), are kept as IPv4 in the low word, so they match IPv4 ranges.
public struct IPAddress: Sendable, Hashable {
    let high: UInt64
    let low: UInt64
    let isV4: Bool

    public init?(_ text: some StringProtocol) {
        var v4: UInt32 = 0
        let parsedV4 = String(text).withCString { inet_pton(AF_INET, $0, &v4) } == 1
        if parsedV4 {
            (high, low, isV4) = (0, UInt64(UInt32(bigEndian: v4)), true)
            return
        }
        var v6: (UInt64, UInt64) = (0, 0)
        guard String(text).withCString({ inet_pton(AF_INET6, $0, &v6) }) == 1 else { return nil }
        let first = UInt64(bigEndian: v6.0)
        let second = UInt64(bigEndian: v6.1)
        if first == 0, second >> 32 == 0xFFFF {
            (high, low, isV4) = (0, second & 0xFFFF_FFFF, true)
        } else {
            (high, low, isV4) = (first, second, false)
        }
    }
}
