import GatehouseHTTP1
import NIOHTTP1

/// A request's W3C trace context (`traceparent`): the trace it belongs to, the caller's span, and
/// the span the gateway makes for it (sent upstream as the new parent). A `traceparent` that is
/// absent or malformed starts a new trace; the client's `tracestate` goes on only with a valid one.
struct TraceContext: Sendable {
    let traceHigh: UInt64
    let traceLow: UInt64
    /// The caller's span; nil when this request starts the trace.
    let parent: UInt64?
    /// The gateway's span for this request.
    let span: UInt64
    let sampled: Bool

    /// - Parameters:
    ///   - draw: random 64-bit numbers (the loop's id generator).
    ///   - sampleRatio: for a new trace, the share of requests sampled; a caller's decision is kept.
    init(_ headers: RequestFields, sampleRatio: Double, draw: () -> UInt64) {
        span = Self.nonZero(draw)
        // Two `traceparent` fields are as malformed as a bad one.
        let values = headers[name: "traceparent"]
        if values.count == 1, let parsed = Self.parse(values[0]) {
            (traceHigh, traceLow, parent, sampled) = (parsed.high, parsed.low, parsed.parent, parsed.flags & 1 == 1)
        } else {
            traceHigh = draw()
            traceLow = Self.nonZero(draw)
            parent = nil
            sampled = sampleRatio >= 1 || (sampleRatio > 0 && Double(draw() >> 11) / Double(1 << 53) < sampleRatio)
        }
    }

    /// `traceparent` as sent upstream (55 bytes into `out`): version 00, the trace, the
    /// gateway's span, the flags.
    func writeHeader(into out: UnsafeMutableRawBufferPointer) {
        out[0] = UInt8(ascii: "0")
        out[1] = UInt8(ascii: "0")
        out[2] = UInt8(ascii: "-")
        RequestID.writeHex(traceHigh, traceLow, into: UnsafeMutableRawBufferPointer(rebasing: out[3..<35]))
        out[35] = UInt8(ascii: "-")
        Self.writeHex(span, into: UnsafeMutableRawBufferPointer(rebasing: out[36..<52]))
        out[52] = UInt8(ascii: "-")
        out[53] = UInt8(ascii: "0")
        out[54] = sampled ? UInt8(ascii: "1") : UInt8(ascii: "0")
    }

    var traceID: String { Self.hex(traceHigh) + Self.hex(traceLow) }
    var spanID: String { Self.hex(span) }
    var parentID: String? { parent.map(Self.hex) }

    static func hex(_ value: UInt64) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes.withUnsafeMutableBytes { writeHex(value, into: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func writeHex(_ value: UInt64, into out: UnsafeMutableRawBufferPointer) {
        for index in 0..<16 { out[index] = digits[Int((value >> UInt64(60 - index * 4)) & 0xF)] }
    }

    private static let digits = Array("0123456789abcdef".utf8)

    private static func nonZero(_ draw: () -> UInt64) -> UInt64 {
        let value = draw()
        return value == 0 ? 1 : value
    }

    /// A `traceparent` value (W3C Trace Context §3.2): `version-traceid-parentid-flags`, lowercase
    /// hex; version ff, an all-zero trace or parent id, or version 00 with anything after the flags
    /// is invalid. A later version may append fields after a `-`.
    static func parse(_ value: String) -> (high: UInt64, low: UInt64, parent: UInt64, flags: UInt8)? {
        // Whitespace around a field value is not part of it (RFC 9110 §5.5).
        let bytes = Array(value.utf8.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed())
        guard bytes.count >= 55, bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-"),
            let version = number(bytes[0..<2]), version != 0xFF,
            let high = number(bytes[3..<19]), let low = number(bytes[19..<35]), high != 0 || low != 0,
            let parent = number(bytes[36..<52]), parent != 0, let flags = number(bytes[53..<55])
        else { return nil }
        if version == 0 ? bytes.count != 55 : bytes.count > 55 && bytes[55] != UInt8(ascii: "-") { return nil }
        return (high, low, parent, UInt8(flags))
    }

    private static func number(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for digit in digits {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = value << 4 | UInt64(digit - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = value << 4 | UInt64(digit - UInt8(ascii: "a") + 10)
            default: return nil
            }
        }
        return value
    }
}
