import GatehouseHTTP1
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// W3C `traceparent` as the gateway reads it: a valid one continues its trace, anything else
/// starts a new one.
@Suite struct TraceContextTests {
    static let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    static func context(_ values: [String], ratio: Double = 1) -> TraceContext {
        let headers = RequestFields(values.map { ("traceparent", $0) })
        var next: UInt64 = 0x1111
        return TraceContext(headers, sampleRatio: ratio) {
            next += 1
            return next
        }
    }

    @Test func aValidParentContinuesItsTrace() {
        let trace = Self.context([Self.valid])
        #expect(trace.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(trace.parentID == "00f067aa0ba902b7")
        #expect(trace.sampled)
        #expect(trace.spanID != "00f067aa0ba902b7")
        var bytes = [UInt8](repeating: 0, count: 55)
        bytes.withUnsafeMutableBytes { trace.writeHeader(into: $0) }
        #expect(String(decoding: bytes, as: UTF8.self) == "00-4bf92f3577b34da6a3ce929d0e0e4736-\(trace.spanID)-01")
        #expect(!Self.context(["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"]).sampled, "the caller's decision is kept")
    }

    @Test(arguments: [
        "", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
    ])
    func aMalformedParentStartsANewTrace(value: String) {
        let trace = Self.context([value])
        #expect(trace.parent == nil)
        #expect(trace.traceID != "4bf92f3577b34da6a3ce929d0e0e4736")
    }

    @Test func aLaterVersionMayAddFieldsAndTwoParentsAreNone() {
        #expect(Self.context(["cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes"]).parentID == "00f067aa0ba902b7")
        #expect(Self.context([Self.valid, Self.valid]).parent == nil)
        #expect(Self.context([Self.valid + " \t"]).parentID == "00f067aa0ba902b7", "whitespace around the value is not part of it")
    }

    @Test func newTracesAreSampledByTheRatio() {
        #expect(Self.context([], ratio: 1).sampled)
        #expect(!Self.context([], ratio: 0).sampled)
        #expect(Self.context([]).parent == nil)
    }
}
