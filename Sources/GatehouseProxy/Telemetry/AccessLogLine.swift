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
        buffer.writeStaticString("{\"time\":\"")
        clock.write(record.time, into: &buffer)
        buffer.writeStaticString("\",\"request_id\":")
        if let id = record.requestID {
            buffer.writeStaticString("\"")
            switch id {
            case .drawn(let high, let low):
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 32) { out in
                    RequestID.writeHex(high, low, into: out)
                    return 32
                }
            case .given(let text): writeEscaped(text, into: &buffer)
            }
            buffer.writeStaticString("\"")
        } else {
            buffer.writeStaticString("null")
        }
        if let trace = figures.trace {
            buffer.writeStaticString(",\"trace_id\":\"")
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 32) { out in
                RequestID.writeHex(trace.traceHigh, trace.traceLow, into: out)
                return 32
            }
            buffer.writeStaticString("\"")
        } else {
            buffer.writeStaticString(",\"trace_id\":null")
        }
        field("client", record.client, into: &buffer)
        field("method", record.method, into: &buffer)
        field("host", record.host, into: &buffer)
        field("path", record.path, into: &buffer)
        field("route", record.route, into: &buffer)
        field("upstream", record.upstream, into: &buffer)
        field("target", record.target, into: &buffer)
        number("attempts", record.attempts, into: &buffer)
        number("status", figures.status, into: &buffer)
        if figures.source == .upstream, figures.status > 0 {
            number("upstream_status", figures.status, into: &buffer)
        } else {
            buffer.writeStaticString(",\"upstream_status\":null")
        }
        field("source", figures.status == 0 ? nil : figures.source.label, into: &buffer)
        number("bytes_in", figures.bytesIn, into: &buffer)
        number("bytes_out", figures.bytesOut, into: &buffer)
        milliseconds("duration_ms", figures.totalNanoseconds, into: &buffer)
        milliseconds("upstream_ms", figures.upstreamNanoseconds, into: &buffer)
        milliseconds("gateway_ms", figures.totalNanoseconds - figures.upstreamNanoseconds, into: &buffer)
        field("consumer", record.consumer, into: &buffer)
        field("policy", record.policy, into: &buffer)
        field("error", record.error, into: &buffer)
        buffer.writeStaticString(figures.aborted ? ",\"aborted\":true}\n" : ",\"aborted\":false}\n")
    }

    private static func field(_ name: StaticString, _ value: (some StringProtocol)?, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(",\"")
        buffer.writeStaticString(name)
        if let value {
            buffer.writeStaticString("\":\"")
            writeEscaped(value, into: &buffer)
            buffer.writeStaticString("\"")
        } else {
            buffer.writeStaticString("\":null")
        }
    }

    private static func number(_ name: StaticString, _ value: Int, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(",\"")
        buffer.writeStaticString(name)
        buffer.writeStaticString("\":")
        writeDecimal(value, into: &buffer)
    }

    /// Milliseconds with three decimals (microseconds), from nanoseconds.
    private static func milliseconds(_ name: StaticString, _ nanoseconds: Int64, into buffer: inout ByteBuffer) {
        let micros = Int(max(0, nanoseconds) / 1000)
        buffer.writeStaticString(",\"")
        buffer.writeStaticString(name)
        buffer.writeStaticString("\":")
        writeDecimal(micros / 1000, into: &buffer)
        let fraction = micros % 1000
        buffer.writeInteger(UInt8(ascii: "."))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(fraction / 100))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(fraction % 10))
    }

    static func writeDecimal(_ value: Int, into buffer: inout ByteBuffer) {
        if value < 0 {
            buffer.writeInteger(UInt8(ascii: "-"))
            return writeDecimal(0 &- value, into: &buffer)
        }
        if value >= 10 { writeDecimal(value / 10, into: &buffer) }
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(value % 10))
    }

    /// JSON string escaping: quotes, backslashes and control characters; everything else as its
    /// UTF-8 bytes (a `String` is valid UTF-8).
    static func writeEscaped(_ text: some StringProtocol, into buffer: inout ByteBuffer) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case 0..<0x20, 0x7F:
                buffer.writeStaticString("\\u00")
                buffer.writeInteger(hex[Int(byte >> 4)])
                buffer.writeInteger(hex[Int(byte & 0xF)])
            default: buffer.writeInteger(byte)
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

    mutating func write(_ nanoseconds: Int64, into buffer: inout ByteBuffer) {
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
        buffer.writeBytes(prefix)
        let millis = Int(nanoseconds / 1_000_000 % 1000)
        buffer.writeInteger(UInt8(ascii: "."))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(millis / 100))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(millis / 10 % 10))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(millis % 10))
        buffer.writeInteger(UInt8(ascii: "Z"))
    }
}
