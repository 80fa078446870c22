import Foundation
import GatehouseModel
import GatehouseTestSupport
import Testing

@testable import GatehouseProxy

/// A real browser (Debian's headless Chromium) making a cross-origin `fetch` with a preflight
/// against the gateway: it succeeds with the right CORS config and is blocked with a wrong one.
@Suite struct BrowserCORSTests {
    func gateway(page: TestUpstream, allowHeaders: [JSONValue]) async throws -> ProxyHarness {
        let api = try await TestUpstream.start(name: "recipes-api")
        let proxy = try await ProxyHarness.start()
        let rejection = try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(api.target)]]]],
            routes: [["name": "recipes", "paths": ["/api/recipes"], "methods": ["GET", "PUT"], "upstream": "u"]],
            policies: [
                [
                    "name": "cors", "type": "cors", "route": "recipes",
                    "config": [
                        "allow_origins": [.string("http://\(page.target)")], "allow_methods": ["GET", "PUT"], "allow_headers": .array(allowHeaders),
                    ],
                ],
                ["name": "auth", "type": "key-auth"],
            ],
            consumers: PolicyTests.consumers)
        #expect(rejection == nil)
        return proxy
    }

    @Test func aBrowsersPreflightedFetchSucceedsWithTheRightConfigAndIsBlockedWithAWrongOne() async throws {
        let page = try await TestUpstream.start(name: "web-page")
        // The API on another origin: `localhost` and another port, where the page is on 127.0.0.1.
        let right = try await gateway(page: page, allowHeaders: ["apikey", "content-type"])
        let headers = ["apikey:\(PolicyTests.webKey)", "content-type:application/json"]
        let allowed = try await HeadlessBrowser.fetch(page: page, url: "http://localhost:\(right.port)/api/recipes/7", method: "PUT", headers: headers)
        #expect(allowed.hasPrefix("status:200 "), "\(allowed)")
        #expect(allowed.contains("\"server\":\"recipes-api\""))
        #expect(allowed.contains("web-app"))

        // `content-type: application/json` is not a simple header: without it in allow_headers the
        // preflight's answer does not cover the request, and the browser never sends it.
        let wrong = try await gateway(page: page, allowHeaders: ["apikey"])
        let blocked = try await HeadlessBrowser.fetch(page: page, url: "http://localhost:\(wrong.port)/api/recipes/7", method: "PUT", headers: headers)
        #expect(blocked.hasPrefix("error:TypeError"), "\(blocked)")
    }
}
