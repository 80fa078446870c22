import Crypto
import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOCore
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// `request-validation` on the data plane, against a real upstream over loopback: invalid
/// requests are answered 400/413/415 with the JSON error naming what was wrong, and the upstream
/// never sees them; valid ones go through with their body as sent.
@Suite struct RequestValidationProxyTests {
    static let validation: JSONValue = [
        "name": "pets-validation", "type": "request-validation", "route": "pets",
        "config": [
            "parameters": [
                ["name": "id", "in": "path", "schema": ["type": "integer", "minimum": 1]],
                ["name": "kind", "in": "query", "required": true, "schema": ["type": "string", "enum": ["cat", "dog"]]],
            ],
            "body": [
                "max_bytes": 64,
                "schema": [
                    "type": "object", "required": ["name"], "additionalProperties": false,
                    "properties": ["name": ["type": "string", "maxLength": 10], "tags": ["type": "array", "items": ["type": "string"]]],
                ],
            ],
        ],
    ]

    func proxy() async throws -> (ProxyHarness, TestUpstream) {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        let rejection = try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [["name": "pets", "paths": ["=/pets/{id}"], "upstream": "u"], ["name": "open", "paths": ["/open"], "upstream": "u"]],
            policies: [Self.validation])
        #expect(rejection == nil)
        return (proxy, upstream)
    }

    static func error(_ response: TestResponse) -> JSONValue? { response.json["error"] }

    @Test func invalidParametersAreRefusedBeforeTheUpstream() async throws {
        let (proxy, upstream) = try await proxy()
        let missing = try await httpRequest(port: proxy.port, .GET, "/pets/7")
        #expect(missing.status == 400)
        #expect(missing.header("content-type") == "application/json")
        #expect(
            Self.error(missing)
                == ["code": "invalid_request", "message": "query parameter 'kind' is required", "in": "query", "parameter": "kind"])
        let badPath = try await httpRequest(port: proxy.port, .GET, "/pets/0?kind=cat")
        #expect(Self.error(badPath)?["message"] == "path parameter 'id' must be at least 1")
        #expect(Self.error(badPath)?["parameter"] == "id")
        let badEnum = try await httpRequest(port: proxy.port, .GET, "/pets/7?kind=bird")
        #expect(Self.error(badEnum)?["message"] == "query parameter 'kind' must be one of \"cat\", \"dog\"")
        #expect(upstream.connectionCount == 0)

        let valid = try await httpRequest(port: proxy.port, .GET, "/pets/7?kind=cat")
        #expect(valid.status == 200)
        #expect(valid.json["uri"] == "/pets/7?kind=cat")
        #expect(upstream.connectionCount == 1)
    }

    @Test func invalidBodiesAreRefusedWithTheirPointer() async throws {
        let (proxy, upstream) = try await proxy()
        let extra = try await httpRequest(port: proxy.port, .POST, "/pets/7?kind=cat", json: ["name": "Rex", "colour": "red"])
        #expect(extra.status == 400)
        #expect(
            Self.error(extra)
                == ["code": "invalid_request", "message": "body /colour is not a property this object may have", "pointer": "/colour"])
        let wrongItem = try await httpRequest(port: proxy.port, .POST, "/pets/7?kind=cat", json: ["name": "Rex", "tags": ["a", 1]])
        #expect(Self.error(wrongItem)?["pointer"] == "/tags/1")
        #expect(Self.error(wrongItem)?["message"] == "body /tags/1 must be a string, got number")
        let text = try await TestConnection.open(port: proxy.port)
        let notJSON = try await text.request(
            .POST, "/pets/7?kind=cat", headers: [("content-type", "application/json"), ("content-length", "5")], body: [Array("{nope".utf8)])
        #expect(notJSON.status == 400)
        #expect(Self.error(notJSON)?["code"] == "invalid_json")
        let plain = try await text.request(.POST, "/pets/7?kind=cat", headers: [("content-type", "text/plain")], body: [Array("hello".utf8)])
        #expect(plain.status == 415)
        #expect(Self.error(plain)?["code"] == "unsupported_media_type")
        await text.close()
        #expect(upstream.connectionCount == 0)
    }

    @Test func aBodyOverTheLimitIs413() async throws {
        let (proxy, upstream) = try await proxy()
        let connection = try await TestConnection.open(port: proxy.port)
        let big = Array(#"{"name":"\#(String(repeating: "x", count: 80))"}"#.utf8)
        let response = try await connection.request(
            .POST, "/pets/7?kind=cat", headers: [("content-type", "application/json")], body: [Array(big[..<40]), Array(big[40...])])
        #expect(response.status == 413)
        #expect(Self.error(response)?["message"] == "policy 'pets-validation' checks bodies of up to 64 bytes")
        #expect(upstream.connectionCount == 0)
    }

    @Test func aValidBodyGoesUpstreamAsSentAndTheConnectionGoesOn() async throws {
        let (proxy, upstream) = try await proxy()
        let connection = try await TestConnection.open(port: proxy.port)
        let body = Array(#"{"name":"Rex","tags":["a"]}"#.utf8)
        let digest = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
        // Chunked, in pieces: held until its end, then checked and sent on.
        let chunked = try await connection.request(
            .POST, "/pets/7?kind=cat", headers: [("content-type", "application/json")], body: [Array(body[..<5]), Array(body[5...])])
        #expect(chunked.status == 200)
        #expect(chunked.json["body_bytes"] == .int(body.count))
        #expect(chunked.json["body_sha256"] == .string(digest))
        // A refused body was read to its end: the next request on the connection is understood.
        let refused = try await connection.request(
            .POST, "/pets/7?kind=cat", headers: [("content-type", "application/json"), ("content-length", "2")], body: [Array("{}".utf8)])
        #expect(Self.error(refused)?["pointer"] == "/name")
        let sized = try await connection.request(
            .PUT, "/pets/8?kind=dog", headers: [("content-type", "application/json"), ("content-length", String(body.count))], body: [body])
        #expect(sized.status == 200)
        #expect(sized.json["body_sha256"] == .string(digest))
        await connection.close()
        #expect(upstream.connectionCount >= 1)
    }

    @Test func expectContinueIsAnsweredOnlyForAHeadThatPassed() async throws {
        let (proxy, upstream) = try await proxy()
        // Parameters wrong: the answer is the 400, and the body is never asked for.
        let refused = try await RawConnection.open(port: proxy.port)
        try await refused.send(
            "POST /pets/7 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 14\r\nExpect: 100-continue\r\n\r\n")
        let answer = try await refused.received(containing: "\"parameter\":\"kind\"")
        #expect(answer.hasPrefix("HTTP/1.1 400 ") && !answer.contains("100 Continue"), "\(answer)")
        #expect(upstream.connectionCount == 0)
        // Parameters right: 100 Continue, then the body is checked and sent on.
        let client = try await RawConnection.open(port: proxy.port)
        try await client.send(
            "POST /pets/7?kind=cat HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 14\r\n"
                + "Expect: 100-continue\r\nConnection: close\r\n\r\n")
        let interim = try await client.received(containing: "HTTP/1.1 100 Continue\r\n\r\n")
        #expect(!interim.contains("200"))
        try await client.send(#"{"name":"Rex"}"#)
        let final = await client.receivedUntilClosed(deadline: .seconds(10))
        #expect(final.contains("HTTP/1.1 200 OK"), "\(final)")
        #expect(final.contains("\"body_bytes\":14"))
    }

    @Test func aRouteWithoutTheValidationStreamsAsBefore() async throws {
        let (proxy, _) = try await proxy()
        let connection = try await TestConnection.open(port: proxy.port)
        let response = try await connection.request(.POST, "/open", headers: [("content-type", "text/plain")], body: [Array("not json".utf8)])
        #expect(response.status == 200)
        #expect(response.json["body_bytes"] == 8)
        await connection.close()
    }
}
