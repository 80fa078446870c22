import Foundation
import GatehouseModel
import GatehouseTestSupport
import Testing

/// CORS derived from a spec, checked by a real browser (Debian's headless Chromium) against a
/// real `serve`: a preflighted `fetch` with a header the spec declares succeeds, one with a header
/// it never declares is blocked.
@Suite(.serialized) struct OpenAPIBrowserCORSTests {
    @Test func aPreflightForADeclaredHeaderSucceedsAndForAnUndeclaredOneIsBlocked() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let page = try await TestUpstream.start(name: "web-page")
        let api = try await TestUpstream.start(name: "items-api")
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        try """
        openapi: 3.1.0
        info: { title: Items, version: "1" }
        x-gatehouse:
          policies: { cors: { type: cors, config: { allow_origins: ["http://\(page.target)"] } } }
        paths:
          /items/{id}:
            get: { operationId: getItem }
            put:
              operationId: putItem
              parameters: [{ name: X-Request-Tag, in: header }]
        """.write(toFile: dir.file("items.openapi.yaml"), atomically: true, encoding: .utf8)
        let imported = try await GatehouseProcess.run([
            "import", "openapi", dir.file("items.openapi.yaml"), "--server", "http://\(api.target)", "-o", dir.file("items.yaml"),
        ])
        #expect(imported.status == 0, "\(imported.output)")
        let synced = try await GatehouseProcess.run(
            ["sync", "--select-tag", "openapi:items", dir.file("items.yaml")],
            environment: ["GATEHOUSE_ADMIN_URL": "http://127.0.0.1:\(gatehouse.ports.admin)"])
        #expect(synced.status == 0, "\(synced.output)")
        try await gatehouse.waitForConfigVersion(1)

        // The API on another origin: `localhost` and another port, where the page is on 127.0.0.1.
        let url = "http://localhost:\(gatehouse.ports.proxy)/items/7"
        let declared = try await HeadlessBrowser.fetch(page: page, url: url, method: "PUT", headers: ["x-request-tag:blue"])
        #expect(declared.hasPrefix("status:200 "), "\(declared)")
        #expect(declared.contains("\"server\":\"items-api\""))
        let undeclared = try await HeadlessBrowser.fetch(page: page, url: url, method: "PUT", headers: ["x-debug:1"])
        #expect(undeclared.hasPrefix("error:TypeError"), "\(undeclared)")
        #expect(api.connectionCount == 1)
    }
}
