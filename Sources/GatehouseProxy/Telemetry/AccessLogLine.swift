import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Writes one access log line (a JSON object and a newline) into a buffer: fields in a fixed
/// order, strings escaped, numbers without Foundation. Documented in docs/observability.md.
struct AccessLogLine {
    /// The figures `RequestMeasure` has when the request ends.
    struct Figures: Sendable {
        var status: Int
        var source: MeterLayout.Source
        var bytesIn: Int
        var bytesOut: Int
        var totalNanoseconds: Int64
        var upstreamNanoseconds: Int64
        var aborted: Bool
        var trace: TraceContext?
    }

    static func write(_ record: AccessRecord, _ figures: Figures, into buffer: inout ByteBuffer, clock: inout WallClockText) {
        // One reservation for the line (each `ByteBuffer` write checks capacity, uniqueness and
        // exclusive access on its own): the fixed part, and every string escaped at worst.
        var strings = record.client.utf8.count + (record.method?.utf8.count ?? 0) + (record.host?.utf8.count ?? 0) + (record.path?.utf8.count ?? 0)
        strings += (record.route?.utf8.count ?? 0) + (record.upstream?.utf8.count ?? 0) + (record.target?.utf8.count ?? 0)
        strings += (record.consumer?.utf8.count ?? 0) + (record.policy?.utf8.count ?? 0) + (record.error?.utf8.count ?? 0)
        if case .given(let id) = record.requestID { strings += id.utf8.count }
        buffer.writeWithCursor(reserving: 640 + strings * 6) { out in
            out.append("{\"time\":\"")
            clock.write(record.time, into: &out)
            out.append("\",\"request_id\":")
            switch record.requestID {
            case .drawn(let high, let low):
                out.append("\"")
                out.appendWithUnsafeBytes(count: 32) { RequestID.writeHex(high, low, into: $0) }
                out.append("\"")
            case .given(let text):
                out.append("\"")
                writeEscaped(text, into: &out)
                out.append("\"")
            case nil: out.append("null")
            }
            if let trace = figures.trace {
                out.append(",\"trace_id\":\"")
                out.appendWithUnsafeBytes(count: 32) { RequestID.writeHex(trace.traceHigh, trace.traceLow, into: $0) }
                out.append("\"")
            } else {
                out.append(",\"trace_id\":null")
            }
            field("client", record.client, into: &out)
            field("method", record.method, into: &out)
            field("host", record.host, into: &out)
            field("path", record.path, into: &out)
            field("route", record.route, into: &out)
            field("upstream", record.upstream, into: &out)
            field("target", record.target, into: &out)
            number("attempts", record.attempts, into: &out)
            number("status", figures.status, into: &out)
            if figures.source == .upstream, figures.status > 0 {
                number("upstream_status", figures.status, into: &out)
            } else {
                out.append(",\"upstream_status\":null")
            }
            field("source", figures.status == 0 ? nil : figures.source.label, into: &out)
            number("bytes_in", figures.bytesIn, into: &out)
            number("bytes_out", figures.bytesOut, into: &out)
            milliseconds("duration_ms", figures.totalNanoseconds, into: &out)
            milliseconds("upstream_ms", figures.upstreamNanoseconds, into: &out)
            milliseconds("gateway_ms", figures.totalNanoseconds - figures.upstreamNanoseconds, into: &out)
            field("consumer", record.consumer, into: &out)
            field("policy", record.policy, into: &out)
            field("error", record.error, into: &out)
            out.append(figures.aborted ? ",\"aborted\":true}\n" : ",\"aborted\":false}\n")
        }
    }

    private static func field(_ name: StaticString, _ value: (some StringProtocol)?, into out: inout ByteCursor) {
        out.append(",\"")
        out.append(name)
        if let value {
            out.append("\":\"")
            writeEscaped(value, into: &out)
            out.append("\"")
        } else {
            out.append("\":null")
        }
    }

    private static func number(_ name: StaticString, _ value: Int, into out: inout ByteCursor) {
        out.append(",\"")
        out.append(name)
        out.append("\":")
        writeDecimal(value, into: &out)
    }

    /// Milliseconds with three decimals (microseconds), from nanoseconds.
    private static func milliseconds(_ name: StaticString, _ nanoseconds: Int64, into out: inout ByteCursor) {
        let micros = Int(max(0, nanoseconds) / 1000)
        out.append(",\"")
        out.append(name)
        out.append("\":")
        writeDecimal(micros / 1000, into: &out)
        let fraction = micros % 1000
        out.append(UInt8(ascii: "."))
        out.append(UInt8(ascii: "0") + UInt8(fraction / 100))
        out.append(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
        out.append(UInt8(ascii: "0") + UInt8(fraction % 10))
    }

    static func writeDecimal(_ value: Int, into out: inout ByteCursor) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
            return writeDecimal(0 &- value, into: &out)
        }
        if value >= 10 { writeDecimal(value / 10, into: &out) }
        out.append(UInt8(ascii: "0") + UInt8(value % 10))
    }

    /// JSON string escaping: quotes, backslashes and control characters; everything else as its
    /// UTF-8 bytes (a `String` is valid UTF-8). At most six bytes out per byte in.
    static func writeEscaped(_ text: some StringProtocol, into out: inout ByteCursor) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append("\\\"")
            case UInt8(ascii: "\\"): out.append("\\\\")
            case 0..<0x20, 0x7F:
                out.append("\\u00")
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)
}

/// The wall clock as RFC 3339 UTC text with milliseconds; the date and time of the current
/// second are formatted once and reused for every line in that second.
struct WallClockText {
    private var second: Int64 = -1
    private var prefix: [UInt8] = []

    /// Nanoseconds since the Unix epoch (to a fraction of a microsecond).
    static func now() -> Int64 {
        Int64(Date().timeIntervalSince1970 * 1e9)
    }

    mutating func write(_ nanoseconds: Int64, into out: inout ByteCursor) {
        let seconds = nanoseconds / 1_000_000_000
        if seconds != second {
            second = seconds
            var time = time_t(seconds)
            var parts = tm()
            gmtime_r(&time, &parts)
            prefix.removeAll(keepingCapacity: true)
            func digits(_ value: Int32, _ count: Int) {
                var divisor = 1
                for _ in 1..<count { divisor *= 10 }
                var rest = Int(value)
                while divisor > 0 {
                    prefix.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                    rest %= divisor
                    divisor /= 10
                }
            }
            digits(parts.tm_year + 1900, 4)
            prefix.append(UInt8(ascii: "-"))
            digits(parts.tm_mon + 1, 2)
            prefix.append(UInt8(ascii: "-"))
            digits(parts.tm_mday, 2)
            prefix.append(UInt8(ascii: "T"))
            digits(parts.tm_hour, 2)
            prefix.append(UInt8(ascii: ":"))
            digits(parts.tm_min, 2)
            prefix.append(UInt8(ascii: ":"))
            digits(parts.tm_sec, 2)
        }
        prefix.withUnsafeBytes { out.append($0) }
        let millis = Int(nanoseconds / 1_000_000 % 1000)
        out.append(UInt8(ascii: "."))
        out.append(UInt8(ascii: "0") + UInt8(millis / 100))
        out.append(UInt8(ascii: "0") + UInt8(millis / 10 % 10))
        out.append(UInt8(ascii: "0") + UInt8(millis % 10))
        out.append(UInt8(ascii: "Z"))
    }
}
