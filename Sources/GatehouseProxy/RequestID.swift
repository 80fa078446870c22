/// Request ids for `X-Request-Id`: 128 bits as 32 hex digits. Each event loop draws them from its
/// own generator (xoshiro256**), seeded from the system's random source: ids must be unique, not
/// secret, and two `getrandom` calls per request cost more than the rest of the id. Not
/// thread-safe: one per event loop, in its `UpstreamConnectionPool`.
struct RequestIDs {
    private var state: (UInt64, UInt64, UInt64, UInt64)
    private static let digits = Array("0123456789abcdef".utf8)

    init() {
        var system = SystemRandomNumberGenerator()
        state = (system.next(), system.next(), system.next(), system.next())
        if state == (0, 0, 0, 0) { state.0 = 1 }
    }

    private mutating func next() -> UInt64 {
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

    mutating func make() -> String {
        let high = next()
        let low = next()
        return String(unsafeUninitializedCapacity: 32) { buffer in
            for index in 0..<16 {
                buffer[index] = Self.digits[Int((high >> UInt64(60 - index * 4)) & 0xF)]
                buffer[16 + index] = Self.digits[Int((low >> UInt64(60 - index * 4)) & 0xF)]
            }
            return 32
        }
    }
}

extension UInt64 {
    fileprivate func rotatedLeft(_ count: UInt64) -> UInt64 { (self << count) | (self >> (64 - count)) }
}
