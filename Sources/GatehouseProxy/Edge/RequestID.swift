/// A request's `X-Request-Id`: the client's, or one the gateway drew. A drawn one stays 128 bits
/// until a local answer needs it as text; on its way upstream it is written as hex digits.
enum RequestID {
    case given(String)
    case drawn(high: UInt64, low: UInt64)

    var text: String {
        switch self {
        case .given(let text): text
        case .drawn(let high, let low):
            String(unsafeUninitializedCapacity: 32) { buffer in
                Self.writeHex(high, low, into: UnsafeMutableRawBufferPointer(buffer))
                return 32
            }
        }
    }

    /// Writes 32 lowercase hex digits into the first 32 bytes of `out`.
    static func writeHex(_ high: UInt64, _ low: UInt64, into out: UnsafeMutableRawBufferPointer) {
        for index in 0..<16 {
            out[index] = digits[Int((high >> UInt64(60 - index * 4)) & 0xF)]
            out[16 + index] = digits[Int((low >> UInt64(60 - index * 4)) & 0xF)]
        }
    }

    private static let digits = Array("0123456789abcdef".utf8)
}

/// Request ids for `X-Request-Id`: 128 bits as 32 hex digits. Each event loop draws them from its
/// own generator (xoshiro256**), seeded from the system's random source: ids must be unique, not
/// secret, and two `getrandom` calls per request cost more than the rest of the id. Not
/// thread-safe: one per event loop, in its `UpstreamConnectionPool`.
struct RequestIDs {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    init() {
        var system = SystemRandomNumberGenerator()
        state = (system.next(), system.next(), system.next(), system.next())
        if state == (0, 0, 0, 0) { state.0 = 1 }
    }

    mutating func next() -> UInt64 {
        let result = (state.1 &* 5).rotatedLeft(7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = state.3.rotatedLeft(45)
        return result
    }

    mutating func draw() -> RequestID {
        .drawn(high: next(), low: next())
    }

    mutating func make() -> String { draw().text }
}

extension UInt64 {
    fileprivate func rotatedLeft(_ count: UInt64) -> UInt64 { (self << count) | (self >> (64 - count)) }
}
