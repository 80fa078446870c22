import Foundation
import GatehouseModel
import GatehouseTestSupport
import Testing

@testable import GatehouseProxy

/// One host name has one route: a spelling of `api.example.com` that routed elsewhere would
/// pass its policies by (here key-auth) and reach a catch-all.
@Suite struct HostSpellingTests {
    static func proxy() async throws -> ProxyHarness {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        let rejection = try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [["name": "api", "hosts": ["api.example.com"], "upstream": "u"], ["name": "any", "upstream": "u"]],
            policies: [["name": "auth", "type": "key-auth", "route": "api"]],
            consumers: [["name": "c", "credentials": [["type": "key-auth", "key": "a-key-of-sixteen-chars"]]]])
        #expect(rejection == nil)
        return proxy
    }

    static func status(_ proxy: ProxyHarness, _ request: String) async throws -> String {
        statusLine(try await rawExchange(port: proxy.port, request))
    }

    @Test func aTrailingDotRoutesAsTheSameHost() async throws {
        let proxy = try await Self.proxy()
        for host in ["api.example.com", "api.example.com.", "API.Example.COM.", "api.example.com.:8000", "api.example.com:"] {
            #expect(
                try await Self.status(proxy, "GET /x HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n") == "HTTP/1.1 401 Unauthorized",
                "Host: \(host)")
        }
        for host in ["other.example.com", "under_score.internal", "127.0.0.1:80", "[::1]:8080", ""] {
            #expect(
                try await Self.status(proxy, "GET /x HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n") == "HTTP/1.1 200 OK",
                "Host: \(host)")
        }
    }

    @Test func anAbsoluteFormTargetWithATrailingDotRoutesAsTheSameHost() async throws {
        let proxy = try await Self.proxy()
        let status = try await Self.status(proxy, "GET http://api.example.com./x HTTP/1.1\r\nHost: other.example.com\r\nConnection: close\r\n\r\n")
        #expect(status == "HTTP/1.1 401 Unauthorized")
    }

    @Test func otherSpellingsOfAHostAreRefused() async throws {
        let proxy = try await Self.proxy()
        for host in ["api%2Eexample.com", "api%2eexample%2ecom", "api..example.com", ".api.example.com", ".", "api.example.com..", "%61pi.example.com",
            "api.example.com,other", "api.example.com;x", "api.example.com&x", "api.example.com=", "api.example.com~", "(api.example.com)",
            "api.example.com*", "api.example.com!", "api.example.com$", "api.example.com'", "api.example.com+x",
            "10.1", "0x0a.0.0.1", "167772161", "010.000.000.001"] {
            #expect(
                try await Self.status(proxy, "GET /x HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n") == "HTTP/1.1 400 Bad Request",
                "Host: \(host)")
        }
        for target in ["http://api%2Eexample.com/x", "http:///x", "http://:80/x", "https:///"] {
            #expect(
                try await Self.status(proxy, "GET \(target) HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n")
                    == "HTTP/1.1 400 Bad Request", "\(target)")
        }
    }

    @Test func aRouteHostWithATrailingDotIsStoredWithout() throws {
        let route = try Route.read(["name": "r", "hosts": ["API.example.com."], "upstream": "u"], id: "00000000-0000-4000-8000-000000000001")
        #expect(route.hosts == ["api.example.com"])
    }
}
