import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

/// `--access-log PATH` on a real `gatehouse serve`: a JSON line per request with the documented
/// fields, and the path opened again on SIGHUP (logrotate).
@Suite(.serialized) struct AccessLogTests {
    static func lines(_ path: String) -> [JSONValue] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { (try? JSONValue.parse(Array($0.utf8))) ?? .null }
    }

    static func number(_ value: JSONValue?) -> Double {
        switch value {
        case .int(let number): Double(number)
        case .double(let number): number
        default: -1
        }
    }

    @Test func eachRequestIsALineWithItsFields() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = dir.file("access.log")
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"), extraArguments: ["--access-log", log])
        defer { gatehouse.stop() }
        let (admin, proxy) = (gatehouse.ports.admin, gatehouse.ports.proxy)
        try await TrafficMix.configure(admin: admin, upstream: upstream)
        // Each request by its id (the loops' buffers reach the file in any order); the 404 draws its own.
        let sent: [(path: String, headers: [(String, String)], status: Int)] = [
            ("/alpha?secret=hidden", [("x-request-id", "r0")], 200), ("/nowhere", [], 404), ("/broken", [("x-request-id", "r2")], 502),
            ("/guarded", [("x-request-id", "r3")], 401), ("/guarded", [("apikey", TrafficMix.key), ("x-request-id", "r4")], 200),
            ("/limited", [("x-request-id", "r5")], 200), ("/limited", [("x-request-id", "r6")], 429),
        ]
        for request in sent {
            #expect(try await httpRequest(port: proxy, .GET, request.path, headers: request.headers).status == request.status)
        }
        try await waitUntil("a line per request") { Self.lines(log).count >= sent.count }
        var lines = Self.lines(log)
        #expect(lines.count == sent.count)
        let fields = [
            "time", "request_id", "trace_id", "client", "method", "host", "path", "route", "upstream", "target", "attempts", "status", "upstream_status", "source",
            "bytes_in", "bytes_out", "duration_ms", "upstream_ms", "gateway_ms", "consumer", "policy", "error", "aborted",
        ]
        for line in lines {
            #expect(line.objectValue.map { Set($0.keys) } == Set(fields), "\(line)")
            #expect(line["client"] == "127.0.0.1")
            #expect(line["method"] == "GET")
            #expect(line["aborted"] == false)
            #expect(line["request_id"]?.stringValue?.isEmpty == false)
            let time = line["time"]?.stringValue ?? ""
            #expect(time.hasSuffix("Z") && time.count == 24, "\(time)")
            #expect(Self.number(line["duration_ms"]) >= Self.number(line["upstream_ms"]))
            #expect(Self.number(line["gateway_ms"]) >= 0)
        }
        let byPath = { (index: Int) -> JSONValue in
            index == 1 ? lines.first { $0["path"] == "/nowhere" } ?? .null : lines.first { $0["request_id"] == .string("r\(index)") } ?? .null
        }
        // 200 from the upstream, with the client's request id; the query is not logged.
        #expect(byPath(0)["path"] == "/alpha")
        #expect(byPath(1)["request_id"]?.stringValue?.count == 32, "a drawn id")
        #expect(byPath(0)["route"] == "alpha")
        #expect(byPath(0)["upstream"] == "main")
        #expect(byPath(0)["target"] == .string(upstream.target))
        #expect(byPath(0)["attempts"] == 1)
        #expect(byPath(0)["status"] == 200)
        #expect(byPath(0)["upstream_status"] == 200)
        #expect(byPath(0)["source"] == "upstream")
        #expect((byPath(0)["bytes_out"]?.intValue ?? 0) > 0)
        // 404: no route.
        #expect(byPath(1)["route"] == .null)
        #expect(byPath(1)["status"] == 404)
        #expect(byPath(1)["source"] == "gateway")
        #expect(byPath(1)["error"] == "no_route")
        #expect(byPath(1)["upstream_status"] == .null)
        // 502: the gateway's, after a refused attempt.
        #expect(byPath(2)["route"] == "broken")
        #expect(["127.0.0.1:1", "127.0.0.1:2"].contains(byPath(2)["target"]?.stringValue ?? ""))
        #expect(byPath(2)["attempts"] == 2)
        #expect(byPath(2)["status"] == 502)
        #expect(byPath(2)["source"] == "gateway")
        #expect(byPath(2)["error"] == "upstream_unreachable")
        // 401 from key-auth, then the consumer it let through.
        #expect(byPath(3)["status"] == 401)
        #expect(byPath(3)["policy"] == "auth")
        #expect(byPath(3)["error"] == "unauthorized")
        #expect(byPath(4)["consumer"] == "web-app")
        #expect(byPath(4)["status"] == 200)
        // 429 from the rate limit.
        #expect(byPath(6)["status"] == 429)
        #expect(byPath(6)["policy"] == "limit")
        #expect(byPath(6)["error"] == "rate_limited")
        #expect(byPath(6)["attempts"] == 0)

        // A request the parser refuses has a line too, with what is known of it.
        let raw = try await RawConnection.open(port: proxy)
        try await raw.send("GET /alpha HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n")
        _ = try await raw.received(containing: "\r\n\r\n")
        await raw.close()
        try await waitUntil("the refusal's line") { Self.lines(log).count > sent.count }
        lines = Self.lines(log)
        let refused = try #require(lines.last)
        #expect(refused["status"] == 400)
        #expect(refused["method"] == .null)
        #expect(refused["route"] == .null)
        #expect(refused["error"] == "bad_request")

        // logrotate: the file moves, SIGHUP, and the next lines go to a new file at the path.
        try FileManager.default.moveItem(atPath: log, toPath: log + ".1")
        gatehouse.signal(SIGHUP)
        try await waitUntil("the log reopened at its path") {
            let answer = try await httpRequest(port: proxy, .GET, "/alpha")
            #expect(answer.status == 200)
            return FileManager.default.fileExists(atPath: log) && !Self.lines(log).isEmpty
        }
        #expect(Self.lines(log).allSatisfy { $0["route"] == "alpha" })
        #expect(Self.lines(log + ".1").count >= sent.count + 1)
        let metrics = try await httpRequest(port: gatehouse.ports.status, .GET, "/metrics").text
        #expect(metrics.contains("gatehouse_access_log_dropped_lines_total 0\n"))
    }

    @Test func linesStillInTheBuffersAreWrittenWhenTheProcessStops() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let log = dir.file("access.log")
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"), extraArguments: ["--access-log", log])
        defer { gatehouse.stop() }
        try await TrafficMix.configure(admin: gatehouse.ports.admin, upstream: upstream)
        for _ in 0..<5 { #expect(try await httpRequest(port: gatehouse.ports.proxy, .GET, "/alpha").status == 200) }
        // SIGTERM at once, well inside the second a buffer may wait: the drain hands them over.
        #expect(await gatehouse.terminate() == 0)
        #expect(Self.lines(log).count == 5)
    }

    @Test func anAccessLogThatCannotBeOpenedStopsTheStart() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let run = try await GatehouseProcess.run(
            ["serve", "--db", dir.file("g.db"), "--access-log", dir.file("missing/dir/access.log"), "--proxy-listen", "127.0.0.1:0",
             "--admin-listen", "127.0.0.1:0", "--status-listen", "127.0.0.1:0"])
        #expect(run.status == 2)
        #expect(run.output.contains("cannot open the access log"))
    }
}
