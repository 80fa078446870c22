import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// An upstream created with no `retries` and no `health_checks` fails over and sets a dead
/// target aside, as nginx's defaults do; `retries: 0` and `passive.enabled: false` turn that off.
@Suite struct FailoverDefaultsTests {
    static func proxy(_ extra: [String: JSONValue] = [:], alive: TestUpstream) async throws -> ProxyHarness {
        let proxy = try await ProxyHarness.start()
        var upstream: [String: JSONValue] = [
            // Port 1 has no listener: connecting is refused.
            "name": "u", "targets": [["target": "127.0.0.1:1"], ["target": .string(alive.target)]],
        ]
        upstream.merge(extra) { _, new in new }
        try proxy.apply(version: 1, upstreams: [.object(upstream)], routes: [["name": "all", "upstream": "u"]])
        return proxy
    }

    @Test func aRefusedConnectIsTriedOnTheOtherTargetWhateverTheMethod() async throws {
        let alive = try await TestUpstream.start(name: "alive")
        let proxy = try await Self.proxy(alive: alive)
        for method in [HTTPMethod.GET, .POST, .GET, .PATCH, .GET, .DELETE] {
            let response = try await httpRequest(port: proxy.port, method, "/", json: method == .GET ? nil : ["a": 1])
            #expect(response.status == 200, "\(method)")
        }
    }

    @Test func theDeadTargetIsSetAsideByDefault() async throws {
        let alive = try await TestUpstream.start(name: "alive")
        let proxy = try await Self.proxy(alive: alive)
        for _ in 0..<20 { #expect(try await httpRequest(port: proxy.port, .GET, "/").status == 200) }
        #expect(proxy.health.ejected() == ["u|127.0.0.1:1"])
    }

    @Test func theDefaultsAreWrittenOutAsTheyAre() throws {
        let upstream = try Upstream.read(["name": "u", "targets": [["target": "127.0.0.1:1"]]], id: "00000000-0000-4000-8000-000000000001")
        #expect(upstream.retries == nil)
        #expect(upstream.passiveHealth == Upstream.PassiveHealth())
        let json = upstream.apiJSON()
        #expect(json["retries"] == .null)
        #expect(json["health_checks"]?["passive"] == ["failures": 3, "cooldown": "10s"])
        // Read back, the same upstream: a document of a release where passive health was off
        // (`"passive": null`) keeps it off, and its hash.
        #expect(try Upstream.read(json, id: upstream.id) == upstream)
        let off = try Upstream.read(
            ["name": "u", "targets": [["target": "127.0.0.1:1"]], "retries": 0, "health_checks": ["passive": .null, "active": .null]],
            id: upstream.id)
        #expect(off.passiveHealth == nil && off.retries == 0)
        #expect(off.apiJSON()["health_checks"]?["passive"] == .null)
    }

    @Test func retriesZeroAndPassiveDisabledTurnThemOff() async throws {
        let alive = try await TestUpstream.start(name: "alive")
        let proxy = try await Self.proxy(["retries": 0, "health_checks": ["passive": ["enabled": false]]], alive: alive)
        var statuses: [Int] = []
        for _ in 0..<10 { statuses.append(try await httpRequest(port: proxy.port, .GET, "/").status) }
        #expect(statuses.filter { $0 == 502 }.count == 5, "\(statuses)")
        #expect(proxy.health.ejected().isEmpty)
    }
}

@Suite struct HeaderCountTests {
    static func request(fields: Int) -> String {
        "GET / HTTP/1.1\r\nHost: a\r\n" + (1..<fields).map { "X-F\($0): v\r\n" }.joined() + "Connection: close\r\n\r\n"
    }

    @Test func moreThanTheLimitOfFieldsIs431() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.routingEverything(to: upstream)
        // Host and Connection count too.
        #expect(statusLine(try await rawExchange(port: proxy.port, Self.request(fields: 99))) == "HTTP/1.1 200 OK")
        #expect(statusLine(try await rawExchange(port: proxy.port, Self.request(fields: 100))) == "HTTP/1.1 431 Request Header Fields Too Large")
        #expect(statusLine(try await rawExchange(port: proxy.port, Self.request(fields: 2000))) == "HTTP/1.1 431 Request Header Fields Too Large")
    }

    @Test func trailerFieldsCountAgainstTheLimitToo() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.routingEverything(to: upstream)
        func chunked(trailers: Int) -> String {
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n"
                + (0..<trailers).map { "X-T\($0): v\r\n" }.joined() + "\r\n"
        }
        #expect(statusLine(try await rawExchange(port: proxy.port, chunked(trailers: 100))) == "HTTP/1.1 200 OK")
        #expect(statusLine(try await rawExchange(port: proxy.port, chunked(trailers: 101))) == "HTTP/1.1 431 Request Header Fields Too Large")
        // The upstream connection the refused request had begun on is not lent to the next one.
        #expect(statusLine(try await rawExchange(port: proxy.port, chunked(trailers: 1))) == "HTTP/1.1 200 OK")
    }

    @Test func theLimitIsAnOption() async throws {
        let upstream = try await TestUpstream.start()
        var options = ProxyOptions()
        options.maxHeaderCount = 10
        let proxy = try await ProxyHarness.routingEverything(to: upstream, options: options)
        #expect(statusLine(try await rawExchange(port: proxy.port, Self.request(fields: 9))) == "HTTP/1.1 200 OK")
        #expect(statusLine(try await rawExchange(port: proxy.port, Self.request(fields: 10))) == "HTTP/1.1 431 Request Header Fields Too Large")
    }
}
