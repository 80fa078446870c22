import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

/// Trace context through a real `gatehouse serve`: the upstream gets the caller's trace with the
/// gateway's span as parent, and a receiver of OTLP/HTTP gets the spans.
@Suite(.serialized) struct TracingTests {
    static let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    /// Whether a `traceparent` the gateway sent is well formed (version 00, lowercase hex).
    static func wellFormed(_ value: String) -> Bool {
        value.utf8.count == 55 && value.hasPrefix("00-") && value.split(separator: "-").map(\.count) == [2, 32, 16, 2]
            && value.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) || $0 == UInt8(ascii: "-") }
    }

    @Test func theTraceGoesUpstreamAndTheSpansToTheCollector() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        // The collector: an HTTP server that keeps what is posted to /document.
        let collector = try await TestUpstream.start()
        collector.setDocument("{}")
        let gatehouse = try await GatehouseProcess.serve(
            db: dir.file("gatehouse.db"),
            extraArguments: [
                "--otlp-endpoint", "http://\(collector.target)/document", "--trace-sample-ratio", "1", "--access-log", dir.file("access.log"),
            ])
        defer { gatehouse.stop() }
        let (admin, proxy) = (gatehouse.ports.admin, gatehouse.ports.proxy)
        #expect(try await httpRequest(port: admin, .POST, "/upstreams", json: ["name": "main", "targets": [["target": .string(upstream.target)]]]).status == 201)
        #expect(try await httpRequest(port: admin, .POST, "/routes", json: ["name": "alpha", "paths": ["/alpha"], "upstream": "main"]).status == 201)

        // A caller's trace: same trace id, the gateway's span as the new parent, its vendor state kept.
        let continued = try await httpRequest(
            port: proxy, .GET, "/alpha", headers: [("traceparent", Self.parent), ("tracestate", "vendor=abc"), ("x-request-id", "continued")])
        let sent = try #require(continued.json["headers"]?["traceparent"]?.arrayValue?.first?.stringValue)
        #expect(continued.json["headers"]?["traceparent"]?.arrayValue?.count == 1)
        #expect(sent.hasPrefix("00-4bf92f3577b34da6a3ce929d0e0e4736-"))
        #expect(sent.hasSuffix("-01"))
        let gatewaySpan = String(sent.dropFirst(36).prefix(16))
        #expect(gatewaySpan != "00f067aa0ba902b7")
        #expect(continued.json["headers"]?["tracestate"] == ["vendor=abc"])

        // None, and a malformed one: a new trace each, and a malformed one's state is dropped.
        let fresh = try await httpRequest(port: proxy, .GET, "/alpha", headers: [("x-request-id", "fresh")])
        let freshParent = try #require(fresh.json["headers"]?["traceparent"]?.arrayValue?.first?.stringValue)
        #expect(Self.wellFormed(freshParent))
        let broken = try await httpRequest(
            port: proxy, .GET, "/alpha", headers: [("traceparent", "00-zz-yy-01"), ("tracestate", "vendor=abc"), ("x-request-id", "broken")])
        let brokenParent = try #require(broken.json["headers"]?["traceparent"]?.arrayValue?.first?.stringValue)
        #expect(Self.wellFormed(brokenParent))
        #expect(!brokenParent.contains("4bf92f3577b34da6a3ce929d0e0e4736"))
        #expect(broken.json["headers"]?["tracestate"] == nil)

        // The spans reach the collector, batched off the loops.
        var spans: [JSONValue] = []
        try await waitUntil("three spans at the collector") {
            spans = collector.documentRequestsSeen.flatMap { seen -> [JSONValue] in
                let document = (try? JSONValue.parse(Array(seen.body.utf8))) ?? .null
                return (document["resourceSpans"]?.arrayValue ?? []).flatMap { $0["scopeSpans"]?.arrayValue ?? [] }
                    .flatMap { $0["spans"]?.arrayValue ?? [] }
            }
            return spans.count >= 3
        }
        #expect(spans.count == 3)
        let span = try #require(spans.first { $0["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736" })
        #expect(span["parentSpanId"] == "00f067aa0ba902b7")
        #expect(span["spanId"] == .string(gatewaySpan))
        #expect(span["name"] == "GET alpha")
        #expect(span["kind"] == 2)
        let attributes = span["attributes"]?.arrayValue ?? []
        let status = attributes.first { $0["key"] == "http.response.status_code" }?["value"]?["intValue"]
        #expect(status == "200")
        #expect(attributes.contains { $0["key"] == "gatehouse.target" && $0["value"]?["stringValue"] == .string(upstream.target) })
        #expect(spans.filter { $0["parentSpanId"] == nil }.count == 2, "the new traces have no parent")

        // The access log names each request's trace.
        try await waitUntil("three access log lines") {
            ((try? String(contentsOfFile: dir.file("access.log"), encoding: .utf8)) ?? "").split(separator: "\n").count >= 3
        }
        let lines = try String(contentsOfFile: dir.file("access.log"), encoding: .utf8).split(separator: "\n").map { try JSONValue.parse(Array($0.utf8)) }
        #expect(lines.first { $0["request_id"] == "continued" }?["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(lines.first { $0["request_id"] == "fresh" }?["trace_id"] == .string(String(freshParent.dropFirst(3).prefix(32))))
        let metrics = try await httpRequest(port: gatehouse.ports.status, .GET, "/metrics").text
        #expect(metrics.contains("gatehouse_trace_spans_exported_total 3\n"))
    }

    @Test func spansQueuedAtSIGTERMAreStillPosted() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let collector = try await TestUpstream.start()
        collector.setDocument("{}")
        let gatehouse = try await GatehouseProcess.serve(
            db: dir.file("gatehouse.db"), extraArguments: ["--otlp-endpoint", "http://\(collector.target)/document", "--trace-sample-ratio", "1"])
        defer { gatehouse.stop() }
        #expect(
            try await httpRequest(port: gatehouse.ports.admin, .POST, "/upstreams", json: ["name": "main", "targets": [["target": .string(upstream.target)]]])
                .status == 201)
        #expect(try await httpRequest(port: gatehouse.ports.admin, .POST, "/routes", json: ["name": "alpha", "paths": ["/alpha"], "upstream": "main"]).status == 201)
        #expect(try await httpRequest(port: gatehouse.ports.proxy, .GET, "/alpha").status == 200)
        // At once, inside the second a span may wait for its batch: the drain posts it.
        #expect(await gatehouse.terminate() == 0)
        let spans = collector.documentRequestsSeen.map { $0.body }.joined()
        #expect(spans.contains("\"GET alpha\""))
    }
}
