import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import GatehouseProxy

/// The request metrics as the proxy counts them: by route, code and source, attempts by
/// outcome, bytes, aborted requests, counters that outlive a snapshot swap.
@Suite struct RequestMetricsTests {
    /// The value of one sample (`name{labels}` exactly as rendered), nil when absent.
    static func sample(_ text: String, _ series: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Int(line.dropFirst(series.count + 1)) ?? Double(line.dropFirst(series.count + 1)).map { Int($0) }
        }
        return nil
    }

    static func requests(_ text: String, route: String, code: String, source: String) -> Int? {
        sample(text, #"gatehouse_http_requests_total{route="\#(route)",code="\#(code)",source="\#(source)"}"#)
    }

    @Test func requestsAreCountedByRouteCodeSourceWithTheirBytes() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.routingEverything(to: upstream)
        #expect(try await httpRequest(port: proxy.port, .GET, "/status/500").status == 500)
        #expect(try await httpRequest(port: proxy.port, .GET, "/status/204").status == 204)
        let sunk = try await httpRequest(port: proxy.port, .POST, "/sink", json: .string(String(repeating: "x", count: 98)))
        #expect(sunk.status == 200)
        let text = proxy.requestMetrics.prometheusText
        #expect(Self.requests(text, route: "all", code: "500", source: "upstream") == 1)
        #expect(Self.requests(text, route: "all", code: "204", source: "upstream") == 1)
        #expect(Self.requests(text, route: "all", code: "200", source: "upstream") == 1)
        #expect(Self.sample(text, #"gatehouse_http_request_body_bytes_total{route="all"}"#) == 100)
        #expect((Self.sample(text, #"gatehouse_http_response_bytes_total{route="all"}"#) ?? 0) > 100)
        #expect(Self.sample(text, #"gatehouse_http_request_duration_seconds_count{route="all"}"#) == 3)
        #expect(Self.sample(text, #"gatehouse_http_request_duration_seconds_bucket{route="all",le="+Inf"}"#) == 3)
        #expect(Self.sample(text, #"gatehouse_upstream_attempts_total{upstream="u",target="\#(upstream.target)",outcome="success"}"#) == 3)
        #expect(Self.sample(text, "gatehouse_http_requests_in_flight") == 0)
        #expect(Self.sample(text, "gatehouse_gateway_duration_seconds_count") == 3)
        try await waitUntil("the three connections to close") {
            Self.sample(proxy.requestMetrics.prometheusText, "gatehouse_connections_open") == 0
        }
        #expect(Self.sample(proxy.requestMetrics.prometheusText, "gatehouse_connections_accepted_total") == 3)
    }

    @Test func gatewayAnswersAndFailedAttemptsAreToldApart() async throws {
        let garbage = try await RawUpstream.start { _ in RawUpstream.Reply(["NOT HTTP\r\n\r\n"], close: true) }
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        try proxy.apply(
            version: 1,
            upstreams: [
                ["name": "garbage", "targets": [["target": .string(garbage.target)]]],
                ["name": "slow", "targets": [["target": .string(upstream.target)]], "timeouts": ["read": "200ms"]],
            ],
            routes: [
                ["name": "bad", "paths": ["/bad"], "upstream": "garbage"],
                ["name": "hang", "paths": ["/hang"], "upstream": "slow"],
                ["name": "close", "paths": ["/close"], "upstream": "slow"],
            ])
        #expect(try await httpRequest(port: proxy.port, .GET, "/bad").status == 502)
        #expect(try await httpRequest(port: proxy.port, .GET, "/hang").status == 504)
        #expect(try await httpRequest(port: proxy.port, .POST, "/close").status == 502)
        #expect(try await httpRequest(port: proxy.port, .GET, "/elsewhere").status == 404)
        let text = proxy.requestMetrics.prometheusText
        #expect(Self.requests(text, route: "bad", code: "502", source: "gateway") == 1)
        #expect(Self.requests(text, route: "hang", code: "504", source: "gateway") == 1)
        #expect(Self.requests(text, route: "close", code: "502", source: "gateway") == 1)
        #expect(Self.requests(text, route: "_unmatched", code: "404", source: "gateway") == 1)
        let attempts = { (upstream: String, target: String, outcome: String) in
            Self.sample(text, #"gatehouse_upstream_attempts_total{upstream="\#(upstream)",target="\#(target)",outcome="\#(outcome)"}"#)
        }
        #expect(attempts("garbage", garbage.target, "bad_response") == 1)
        #expect(attempts("slow", upstream.target, "timeout") == 1)
        #expect(attempts("slow", upstream.target, "reset") == 1)
        #expect(attempts("slow", upstream.target, "success") == 0)
    }

    @Test func aClientThatLeavesBeforeItsAnswerIsCountedAborted() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.routingEverything(to: upstream)
        let connection = try await RawConnection.open(port: proxy.port)
        try await connection.send("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
        try await waitUntil("the request to be in flight") {
            Self.sample(proxy.requestMetrics.prometheusText, "gatehouse_http_requests_in_flight") == 1
        }
        await connection.close()
        try await waitUntil("the request to count as aborted") {
            Self.sample(proxy.requestMetrics.prometheusText, #"gatehouse_http_requests_aborted_total{route="all"}"#) == 1
        }
        let text = proxy.requestMetrics.prometheusText
        #expect(Self.sample(text, "gatehouse_http_requests_in_flight") == 0)
        #expect(Self.sample(text, #"gatehouse_http_request_duration_seconds_count{route="all"}"#) == 0)
    }

    @Test func moreDistinctCodesThanARouteNamesAreCountedByClass() async throws {
        let upstream = try await TestUpstream.start()
        // One loop: the cap is per event loop.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let proxy = try await ProxyHarness.start(group: group)
        try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [["name": "api", "paths": ["/"], "upstream": "u"]])
        let codes = [200, 201, 202, 203, 204, 206, 400, 403, 404, 409, 410, 418, 500, 503]
        for code in codes { #expect(try await httpRequest(port: proxy.port, .GET, "/status/\(code)").status == code) }
        let text = proxy.requestMetrics.prometheusText
        for code in codes.prefix(MeterLayout.Route.codeSlots) { #expect(Self.requests(text, route: "api", code: String(code), source: "upstream") == 1) }
        // The last two (500, 503) by class: an alert on 5xx still sees them.
        #expect(Self.requests(text, route: "api", code: "5xx", source: "upstream") == codes.count - MeterLayout.Route.codeSlots)
        #expect(Self.sample(text, #"gatehouse_http_request_duration_seconds_count{route="api"}"#) == codes.count)
    }

    @Test func aRouteKeepsItsCountsAcrossSnapshots() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        let upstreams: [JSONValue] = [["name": "u", "targets": [["target": .string(upstream.target)]]]]
        try proxy.apply(version: 1, upstreams: upstreams, routes: [["name": "api", "paths": ["/a"], "upstream": "u"]])
        #expect(try await httpRequest(port: proxy.port, .GET, "/a").status == 200)
        try proxy.apply(version: 2, upstreams: upstreams, routes: [["name": "api", "paths": ["/a", "/b"], "upstream": "u"]])
        #expect(try await httpRequest(port: proxy.port, .GET, "/b").status == 200)
        #expect(Self.requests(proxy.requestMetrics.prometheusText, route: "api", code: "200", source: "upstream") == 2)
    }

    @Test func aHistogramsCountIsItsLastBucket() throws {
        let metrics = RequestMetrics()
        let meters = metrics.meters()
        let route = CompiledRoute(try Route.read(["name": "r", "upstream": "u"], id: "r"), upstream: 0, meters: metrics)
        var measure = RequestMeasure()
        for _ in 0..<5 {
            measure.begin(meters)
            measure.routed(route)
            measure.answered(status: 200, source: .upstream)
            measure.finish(meters, nil, nil)
        }
        let text = metrics.prometheusText
        #expect(Self.sample(text, #"gatehouse_http_request_duration_seconds_bucket{route="r",le="+Inf"}"#) == 5)
        #expect(Self.sample(text, #"gatehouse_http_request_duration_seconds_count{route="r"}"#) == 5)
        #expect(DurationBuckets.index(0) == 0)
        #expect(DurationBuckets.index(25_000) == 0)
        #expect(DurationBuckets.index(25_001) == 1)
        #expect(DurationBuckets.index(61_000_000_000) == DurationBuckets.bounds.count)
        #expect(DurationBuckets.labels.count == DurationBuckets.bounds.count)
        // Routes show ten bounds and +Inf; the gateway's own part shows all twenty.
        let routeBuckets = text.split(separator: "\n").filter { $0.hasPrefix(#"gatehouse_http_request_duration_seconds_bucket{route="r","#) }
        #expect(routeBuckets.count == DurationBuckets.routeBounds.count + 1)
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("gatehouse_gateway_duration_seconds_bucket{") }.count == DurationBuckets.bounds.count + 1)
    }

    @Test func aRoutesHistogramShowsItsBoundsCumulatively() {
        // One request in each fine bucket and one past them all.
        let counts = Array(repeating: 1, count: DurationBuckets.bounds.count + 1)
        var out = PrometheusText()
        out.histogram("h", buckets: counts[...], sumNanoseconds: 0, shown: DurationBuckets.routeBounds)
        for index in DurationBuckets.routeBounds {
            #expect(Self.sample(out.text, #"h_bucket{le="\#(DurationBuckets.labels[index])"}"#) == index + 1)
        }
        #expect(Self.sample(out.text, #"h_bucket{le="0.0005"}"#) == 5)
        #expect(Self.sample(out.text, #"h_bucket{le="5e-05"}"#) == nil)
        #expect(Self.sample(out.text, #"h_bucket{le="+Inf"}"#) == counts.count)
        #expect(Self.sample(out.text, "h_count") == counts.count)
    }

    @Test func aRouteWithConsumerMetricsCountsEachConsumerUpToTheCap() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start(policies: TestWallClock().policyState(), requestMetrics: RequestMetrics(consumerLabels: 1))
        func consumer(_ name: String, _ index: Int) -> JSONValue {
            [
                "id": .string("00000000-0000-4000-8000-00000000000\(index)"), "name": .string(name),
                "credentials": [["id": .string("00000000-0000-4000-8000-00000000010\(index)"), "type": "key-auth", "key": .string("\(name)-key-0123456789")]],
            ]
        }
        let rejection = try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [
                ["name": "counted", "paths": ["/counted"], "strip_path": true, "upstream": "u", "consumer_metrics": true],
                ["name": "plain", "paths": ["/plain"], "upstream": "u"],
            ],
            policies: [["name": "keys", "type": "key-auth"]], consumers: [consumer("ann", 1), consumer("ben", 2)])
        #expect(rejection == nil)
        for (path, key, status) in [
            ("/counted", "ann", 200), ("/counted", "ann", 200), ("/counted", "ben", 200), ("/counted", nil, 401), ("/counted/status/503", "ann", 503),
            ("/plain", "ann", 200),
        ] as [(String, String?, Int)] {
            let headers = key.map { [("apikey", "\($0)-key-0123456789")] } ?? []
            #expect(try await httpRequest(port: proxy.port, .GET, path, headers: headers).status == status)
        }
        let text = proxy.requestMetrics.prometheusText
        func counted(_ consumer: String, _ code: String, _ source: String) -> Int? {
            Self.sample(text, #"gatehouse_http_consumer_requests_total{route="counted",consumer="\#(consumer)",code="\#(code)",source="\#(source)"}"#)
        }
        #expect(counted("ann", "200", "upstream") == 2)
        #expect(counted("ann", "503", "upstream") == 1)
        // ben is past the cap of one consumer (in name order); the 401 had no consumer.
        #expect(counted("_other", "200", "upstream") == 1)
        #expect(counted("_none", "401", "gateway") == 1)
        #expect(!text.contains(#"consumer="ben""#))
        #expect(!text.contains(#"gatehouse_http_consumer_requests_total{route="plain""#))
        #expect(Self.requests(text, route: "counted", code: "200", source: "upstream") == 3)
    }

    @Test func aTunnelsConnectionIsCountedClosedWhenItCloses() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.routingEverything(to: upstream)
        let client = try await RawConnection.open(port: proxy.port)
        try await client.send(
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        _ = try await client.received(containing: "\r\n\r\n")
        #expect(Self.requests(proxy.requestMetrics.prometheusText, route: "all", code: "101", source: "upstream") == 1)
        await client.close()
        try await waitUntil("the tunnel's connection to count as closed") {
            Self.sample(proxy.requestMetrics.prometheusText, "gatehouse_connections_open") == 0
        }
    }

    @Test func aRequestTheParserRefusesIsCountedWithItsStatus() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.routingEverything(to: upstream)
        let client = try await RawConnection.open(port: proxy.port)
        try await client.send("GET /a HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n")
        #expect(try await client.received(containing: "\r\n\r\n").hasPrefix("HTTP/1.1 400"))
        await client.close()
        let text = proxy.requestMetrics.prometheusText
        #expect(Self.requests(text, route: "_unmatched", code: "400", source: "gateway") == 1)
        #expect(!text.contains(#"code="0""#))
    }

    @Test func aClientThatClosesInTheMiddleOfItsBodyIsAborted() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.routingEverything(to: upstream)
        let client = try await RawConnection.open(port: proxy.port)
        try await client.send("POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
        try await waitUntil("the request to be in flight") {
            Self.sample(proxy.requestMetrics.prometheusText, "gatehouse_http_requests_in_flight") == 1
        }
        await client.close()
        try await waitUntil("the request to count as aborted") {
            Self.sample(proxy.requestMetrics.prometheusText, #"gatehouse_http_requests_aborted_total{route="all"}"#) == 1
        }
        #expect(Self.sample(proxy.requestMetrics.prometheusText, #"gatehouse_http_request_duration_seconds_count{route="all"}"#) == 0)
    }
}
