import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

/// A real Prometheus scraping a real `gatehouse serve`: the request metrics answer PromQL with
/// exactly the mix that was sent, every dashboard query and alert expression evaluates, and
/// promtool accepts the document and the rules.
@Suite(.serialized) struct PrometheusMetricsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func prometheusCountsTheMixByRouteCodeAndSource() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let (admin, proxy, status) = (gatehouse.ports.admin, gatehouse.ports.proxy, gatehouse.ports.status)
        try await TrafficMix.configure(admin: admin, upstream: upstream)
        let prometheus = try await TestPrometheus.start(
            jobs: ["gatehouse-data-plane": ["127.0.0.1:\(status)"], "gatehouse-control-plane": ["127.0.0.1:\(admin)"]],
            ruleFiles: [Self.root.appendingPathComponent("deploy/prometheus/alerts.yml").path])
        defer { prometheus.stop() }
        try await waitUntil("both jobs scraped", deadline: .seconds(60)) {
            try await prometheus.value("sum(up)") == 2
        }

        // The mix: what each request got is checked here, what Prometheus counted below.
        var sent: [(path: String, headers: [(String, String)], status: Int)] = []
        sent += Array(repeating: ("/alpha", [], 200), count: 5)
        sent += Array(repeating: ("/beta", [], 200), count: 3)
        sent += Array(repeating: ("/nowhere", [], 404), count: 2)
        sent += Array(repeating: ("/broken", [], 502), count: 2)
        sent += Array(repeating: ("/guarded", [], 401), count: 2)
        sent += [("/guarded", [("apikey", TrafficMix.key)], 200)]
        sent += [("/limited", [], 200), ("/limited", [], 429), ("/limited", [], 429)]
        for request in sent {
            let answer = try await httpRequest(port: proxy, .GET, request.path, headers: request.headers)
            #expect(answer.status == request.status, "\(request.path): \(answer.text)")
        }
        try await waitUntil("Prometheus to scrape the whole mix", deadline: .seconds(60)) {
            try await prometheus.value(#"sum(gatehouse_http_requests_total{job="gatehouse-data-plane"})"#) == Double(sent.count)
        }

        // Rates need two samples in their window: every series was scraped three times since it began.
        try await waitUntil("three scrapes of every series", deadline: .seconds(60)) {
            try await prometheus.value(#"min(count_over_time(gatehouse_http_requests_total[1m]))"#) ?? 0 >= 3
        }
        let expected: [(route: String, code: String, source: String, count: Double)] = [
            ("alpha", "200", "upstream", 5), ("beta", "200", "upstream", 3), ("_unmatched", "404", "gateway", 2),
            ("broken", "502", "gateway", 2), ("guarded", "401", "gateway", 2), ("guarded", "200", "upstream", 1),
            ("limited", "200", "upstream", 1), ("limited", "429", "gateway", 2),
        ]
        for series in expected {
            let selector = #"gatehouse_http_requests_total{route="\#(series.route)",code="\#(series.code)",source="\#(series.source)"}"#
            #expect(try await prometheus.value(selector) == series.count, "\(selector)")
        }
        #expect(try await prometheus.value(#"count(gatehouse_http_requests_total{job="gatehouse-data-plane"})"#) == Double(expected.count))
        #expect(try await prometheus.value(#"sum(gatehouse_http_request_duration_seconds_count{route="alpha"})"#) == 5)
        #expect(try await prometheus.value(#"gatehouse_http_request_duration_seconds_bucket{route="alpha",le="+Inf"}"#) == 5)
        #expect(try await prometheus.value(#"gatehouse_upstream_attempts_total{upstream="dead",target="127.0.0.1:1",outcome="connect_failure"}"#) != nil)
        #expect(
            try await prometheus.value(#"sum(gatehouse_upstream_attempts_total{upstream="dead",outcome="connect_failure"})"#) == 4,
            "two requests, each refused by both targets")
        #expect(try await prometheus.value(#"gatehouse_upstream_retries_total{upstream="dead"}"#) == 2)
        #expect(try await prometheus.value(#"gatehouse_upstream_attempts_total{upstream="main",outcome="success"}"#) == 10)
        #expect(try await prometheus.value(#"gatehouse_upstream_duration_seconds_count{upstream="main"}"#) == 10)
        #expect(try await prometheus.value("gatehouse_gateway_duration_seconds_count") == Double(sent.count))
        #expect(try await prometheus.value("gatehouse_rate_limited_total") == 2)
        #expect(try await prometheus.value(#"gatehouse_auth_failures_total{policy="auth",type="key-auth",reason="missing"}"#) == 2)
        #expect(try await prometheus.value("sum(gatehouse_auth_failures_total)") == 2)
        // `guarded` counts by consumer: the two 401s had none.
        #expect(try await prometheus.value(#"gatehouse_http_consumer_requests_total{route="guarded",consumer="web-app",code="200"}"#) == 1)
        #expect(try await prometheus.value(#"gatehouse_http_consumer_requests_total{route="guarded",consumer="_none",code="401"}"#) == 2)
        #expect(try await prometheus.value(#"gatehouse_control_plane_config_version"#) == prometheus.value("gatehouse_config_version"))

        // Every dashboard query returns data; every alert rule evaluates without error.
        let dashboard = try JSONValue.parse(Array(Data(contentsOf: Self.root.appendingPathComponent("deploy/grafana/gatehouse.json"))))
        var queries = 0
        // Each SLO threshold the dashboard offers must be a bound of the routes' histograms.
        let slo = dashboard["templating"]?["list"]?.arrayValue?.first { $0["name"] == "slo" }?["query"]?.stringValue ?? ""
        let thresholds = slo.split(separator: ",").map(String.init)
        #expect(thresholds.count >= 3)
        for panel in dashboard["panels"]?.arrayValue ?? [] {
            for target in panel["targets"]?.arrayValue ?? [] {
                let expr = try #require(target["expr"]?.stringValue)
                for threshold in expr.contains("$slo") ? thresholds : [""] {
                    let promql = expr.replacingOccurrences(of: "$__rate_interval", with: "1m").replacingOccurrences(of: "$instance", with: ".*")
                        .replacingOccurrences(of: "$route", with: ".*").replacingOccurrences(of: "$slo", with: threshold)
                    #expect(!promql.contains("$"), "an unknown variable in \(expr)")
                    let result = try await prometheus.query(promql)["result"]?.arrayValue ?? []
                    #expect(!result.isEmpty, "panel '\(panel["title"]?.stringValue ?? "")' has no data: \(promql)")
                    queries += 1
                }
            }
        }
        #expect(queries >= 16)
        try await waitUntil("every alert rule evaluated", deadline: .seconds(60)) {
            let rules = (try await prometheus.api("rules"))["groups"]?.arrayValue?.flatMap { $0["rules"]?.arrayValue ?? [] } ?? []
            return !rules.isEmpty && rules.allSatisfy { ($0["lastEvaluation"]?.stringValue ?? "").hasPrefix("0001") == false }
        }
        let rules = (try await prometheus.api("rules"))["groups"]?.arrayValue?.flatMap { $0["rules"]?.arrayValue ?? [] } ?? []
        #expect(rules.count == 11)
        for rule in rules {
            #expect(rule["health"] == "ok", "\(rule["name"]?.stringValue ?? ""): \(rule["lastError"]?.stringValue ?? "")")
        }

        // promtool's lint of the document, and of the rules.
        let document = try await httpRequest(port: status, .GET, "/metrics")
        #expect(document.header("content-type") == "text/plain; version=0.0.4")
        try document.text.write(toFile: dir.file("metrics.txt"), atomically: true, encoding: .utf8)
        let lint = Process()
        lint.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        lint.arguments = ["check", "metrics"]
        lint.standardInput = FileHandle(forReadingAtPath: dir.file("metrics.txt"))
        let linted = try await lint.output()
        #expect(linted.status == 0 && linted.output.isEmpty, "\(linted.output)")
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        check.arguments = ["check", "rules", Self.root.appendingPathComponent("deploy/prometheus/alerts.yml").path]
        let checked = try await check.output()
        #expect(checked.status == 0, "\(checked.output)")
    }
}
