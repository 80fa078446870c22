import Testing

@testable import GatehouseProxy

/// Where `https_redirect` sends a plain-HTTP request.
@Suite struct HTTPSLocationTests {
    @Test func theSameHostPathAndQueryOnTheTLSPort() {
        #expect(ProxyHandler.httpsLocation(host: "shop.example.test", port: 8443, path: "/cart", query: "id=7") == "https://shop.example.test:8443/cart?id=7")
        #expect(ProxyHandler.httpsLocation(host: "shop.example.test", port: 443, path: "/", query: nil) == "https://shop.example.test/")
    }

    @Test func anIPv6AddressIsBracketedOnce() {
        // As routing has it from `Host: [::1]:80`, and bare.
        #expect(ProxyHandler.httpsLocation(host: "[::1]", port: 8443, path: "/a/b", query: "x=1") == "https://[::1]:8443/a/b?x=1")
        #expect(ProxyHandler.httpsLocation(host: "::1", port: 443, path: "/", query: nil) == "https://[::1]/")
    }
}
