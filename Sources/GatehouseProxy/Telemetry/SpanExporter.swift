import AsyncHTTPClient
import Atomics
import GatehouseModel
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Exports a server span per sampled request over OTLP/HTTP (JSON encoding) to a collector:
/// requests hand finished spans over under a lock, and a task off the event loops posts them in
/// batches every second (or at 512). The queue is bounded: spans past it are dropped and counted,
/// and no event loop waits on the collector.
public final class SpanExporter: Sendable {
    /// One request's span: what its access log line says, under its trace.
    struct Span: Sendable {
        let trace: TraceContext
        let record: AccessRecord
        let figures: AccessLogLine.Figures
    }

    public let endpoint: String
    /// The share of new traces sampled (a caller's sampled flag is kept).
    public let sampleRatio: Double
    private let queue = NIOLockedValueBox<[Span]>([])
    private let exported = ManagedAtomic(0)
    private let dropped = ManagedAtomic(0)
    private let failures = ManagedAtomic(0)
    private let client: HTTPClient
    private let logger: Logger
    static let maxQueued = 4096
    static let batch = 512

    public init(endpoint: String, sampleRatio: Double, logger: Logger) {
        self.endpoint = endpoint
        self.sampleRatio = sampleRatio
        self.logger = logger
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(2), read: .seconds(5))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func record(_ span: Span) {
        let taken = queue.withLockedValue { queue in
            guard queue.count < Self.maxQueued else { return false }
            queue.append(span)
            return true
        }
        if !taken { dropped.wrappingIncrement(ordering: .relaxed) }
    }

    /// Posts what is queued every second until cancelled, then once more.
    public func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            await flush()
        }
        await flush()
        try? await client.shutdown()
    }

    func flush() async {
        while true {
            let spans = queue.withLockedValue { queue -> [Span] in
                let taken = Array(queue.prefix(Self.batch))
                queue.removeFirst(taken.count)
                return taken
            }
            guard !spans.isEmpty else { return }
            var request = HTTPClientRequest(url: endpoint)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(Self.document(spans).canonicalBytes)
            do {
                let response = try await client.execute(request, timeout: .seconds(5))
                _ = try? await response.body.collect(upTo: 64 * 1024)
                guard (200..<300).contains(response.status.code) else { throw Refused(status: response.status.code) }
                exported.wrappingIncrement(by: spans.count, ordering: .relaxed)
            } catch {
                failures.wrappingIncrement(ordering: .relaxed)
                dropped.wrappingIncrement(by: spans.count, ordering: .relaxed)
                logger.warning("exporting spans failed", metadata: ["endpoint": "\(endpoint)", "spans": "\(spans.count)", "error": "\(error)"])
                return
            }
        }
    }

    struct Refused: Error, CustomStringConvertible {
        let status: UInt
        var description: String { "the collector answered \(status)" }
    }

    public var prometheusText: String {
        var out = PrometheusText()
        out.family("gatehouse_trace_spans_exported_total", "counter", "Spans the collector accepted.")
        out.sample("gatehouse_trace_spans_exported_total", exported.load(ordering: .relaxed))
        out.family("gatehouse_trace_spans_dropped_total", "counter", "Spans dropped: the queue was full, or their batch failed.")
        out.sample("gatehouse_trace_spans_dropped_total", dropped.load(ordering: .relaxed))
        out.family("gatehouse_trace_export_failures_total", "counter", "Batches the collector did not accept.")
        out.sample("gatehouse_trace_export_failures_total", failures.load(ordering: .relaxed))
        return out.text
    }

    /// An OTLP `ExportTraceServiceRequest` in its JSON form (ids as hex, 64-bit numbers as strings).
    static func document(_ spans: [Span]) -> JSONValue {
        func attribute(_ key: String, _ value: String?) -> JSONValue? {
            value.map { ["key": .string(key), "value": ["stringValue": .string($0)]] }
        }
        func attribute(_ key: String, _ value: Int) -> JSONValue {
            ["key": .string(key), "value": ["intValue": .string(String(value))]]
        }
        let encoded: [JSONValue] = spans.map { span in
            let (record, figures) = (span.record, span.figures)
            var fields: [String: JSONValue] = [
                "traceId": .string(span.trace.traceID), "spanId": .string(span.trace.spanID),
                "name": .string("\(record.method ?? "-") \(record.route ?? RequestMetrics.unmatchedName)"), "kind": 2,
                "startTimeUnixNano": .string(String(record.time)), "endTimeUnixNano": .string(String(record.time + figures.totalNanoseconds)),
                "attributes": .array(
                    [
                        attribute("http.request.method", record.method), attribute("url.path", record.path.map(String.init)),
                        attribute("http.route", record.route), attribute("http.response.status_code", figures.status),
                        attribute("gatehouse.upstream", record.upstream), attribute("gatehouse.target", record.target),
                        attribute("gatehouse.attempts", record.attempts), attribute("gatehouse.source", figures.status == 0 ? nil : figures.source.label),
                    ].compactMap { $0 }),
                // OTLP status: 2 is an error; a server span's 4xx is not its own error.
                "status": ["code": figures.status >= 500 || figures.status == 0 ? 2 : 0],
            ]
            if let parent = span.trace.parentID { fields["parentSpanId"] = .string(parent) }
            return .object(fields)
        }
        return [
            "resourceSpans": [
                [
                    "resource": ["attributes": [["key": "service.name", "value": ["stringValue": "gatehouse"]]]],
                    "scopeSpans": [["scope": ["name": "gatehouse", "version": .string(GatehouseVersion.current)], "spans": .array(encoded)]],
                ]
            ]
        ]
    }
}
