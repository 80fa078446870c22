import Foundation
import GatehouseModel
import NIOHTTP1

/// A real OAuth2 identity provider: django-oauth-toolkit on SQLite (`Tests/Fixtures/idp/idp.py`,
/// run by the virtualenv `scripts/test` keeps at `.build/idp`), on a loopback port it picks itself.
///
/// It has two confidential client-credentials applications: the client (`clientID`), whose
/// tokens the tests send through the gateway, and the resource server (`resourceID`), the
/// gateway's own credentials for the introspection endpoint (HTTP Basic, or in the form body).
/// Test-only controls count, delay or fail introspection requests, mint tokens in bulk, and sign
/// RS256 JWTs with a key set that can rotate. Stopped with SIGKILL, like the other servers here.
public final class TestIdP: @unchecked Sendable {
    public let port: Int
    public let clientID: String
    public let clientSecret: String
    public let resourceID: String
    public let resourceSecret: String
    private let directory: TemporaryDirectory
    private let process: Process

    public var baseURL: String { "http://127.0.0.1:\(port)" }
    /// The `iss` of the JWTs it signs.
    public var issuer: String { baseURL }
    public var tokenURL: String { baseURL + "/o/token/" }
    public var introspectionURL: String { baseURL + "/o/introspect/" }
    public var revocationURL: String { baseURL + "/o/revoke_token/" }
    public var jwksURL: String { baseURL + "/.well-known/jwks.json" }

    /// The checkout this file is in: the script and the virtualenv are found from it.
    private static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// - Parameter tokenTTL: the lifetime of the access tokens it grants, in seconds.
    public static func start(tokenTTL: Int = 3600) async throws -> TestIdP {
        let python = repositoryRoot.appendingPathComponent(".build/idp/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw IdPFailure(description: "\(python) is missing: scripts/test creates it")
        }
        let directory = try TemporaryDirectory()
        let (clientID, clientSecret) = ("test-client", UUID().uuidString.lowercased())
        let (resourceID, resourceSecret) = ("gatehouse", UUID().uuidString.lowercased())
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            repositoryRoot.appendingPathComponent("Tests/Fixtures/idp/idp.py").path, "--db", directory.file("idp.sqlite3"),
            "--client-id", clientID, "--client-secret", clientSecret, "--resource-id", resourceID, "--resource-secret", resourceSecret,
            "--token-ttl", String(tokenTTL),
        ]
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        // Files, not pipes: nothing has to drain them, and the log is there to read when it fails.
        let stdout = directory.file("stdout.log")
        let stderr = directory.file("stderr.log")
        guard FileManager.default.createFile(atPath: stdout, contents: nil), FileManager.default.createFile(atPath: stderr, contents: nil),
            let stdoutHandle = FileHandle(forWritingAtPath: stdout), let stderrHandle = FileHandle(forWritingAtPath: stderr)
        else {
            directory.remove()
            throw IdPFailure(description: "cannot create the identity provider's logs in \(directory.path)")
        }
        process.standardOutput = stdoutHandle
        process.standardError = stderrHandle
        do {
            try process.run()
        } catch {
            directory.remove()
            throw error
        }
        var port = 0
        do {
            // Its own word that it listens (it binds port 0, so no other test can take its port).
            // Polled from the file: a blocking read would hold one of the two concurrency threads.
            try await waitUntil("the identity provider to listen", deadline: .seconds(60)) {
                if !process.isRunning { throw IdPFailure(description: "the identity provider exited (status \(process.terminationStatus))") }
                let text = (try? String(contentsOfFile: stdout, encoding: .utf8)) ?? ""
                // Whole lines only: the last one may still be being written.
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
                guard let line = lines.first(where: { $0.hasPrefix("listening 127.0.0.1:") }),
                    let found = Int(line.dropFirst("listening 127.0.0.1:".count))
                else { return false }
                port = found
                return true
            }
        } catch {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            let log = (try? String(contentsOfFile: stderr, encoding: .utf8)) ?? ""
            directory.remove()
            throw IdPFailure(description: "\(error); its stderr:\n\(log)")
        }
        return TestIdP(
            port: port, client: (clientID, clientSecret), resource: (resourceID, resourceSecret), directory: directory, process: process)
    }

    private init(
        port: Int, client: (id: String, secret: String), resource: (id: String, secret: String), directory: TemporaryDirectory,
        process: Process
    ) {
        self.port = port
        (clientID, clientSecret) = client
        (resourceID, resourceSecret) = resource
        self.directory = directory
        self.process = process
    }

    deinit {
        stop()
        directory.remove()
    }

    /// SIGKILL: it may inherit the test process's blocked signal mask.
    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// A token from a real client-credentials grant (`POST /o/token/`, the client's credentials
    /// in HTTP Basic).
    public func issueToken(scope: String) async throws -> String {
        let response = try await post(
            "/o/token/", form: [("grant_type", "client_credentials"), ("scope", scope)], basic: (user: clientID, password: clientSecret))
        guard response.status == 200, let token = response.json["access_token"]?.stringValue else {
            throw IdPFailure(description: "token grant answered \(response.status): \(response.text)")
        }
        return token
    }

    /// `count` access tokens of the client, written straight to the database (one insert): each
    /// introspects as active for `ttl` seconds (default: the token TTL; negative: already expired).
    public func mintTokens(_ count: Int, scope: String, ttl: Int? = nil) async throws -> [String] {
        var form = [("count", String(count)), ("scope", scope)]
        if let ttl { form.append(("ttl", String(ttl))) }
        let response = try await post("/test/tokens", form: form)
        guard response.status == 200, let tokens = response.json["tokens"]?.arrayValue?.compactMap(\.stringValue), tokens.count == count else {
            throw IdPFailure(description: "minting tokens answered \(response.status): \(response.text)")
        }
        return tokens
    }

    /// Revokes an access token (RFC 7009, by the client that owns it): it then introspects as
    /// inactive.
    public func revoke(_ token: String) async throws {
        let response = try await post("/o/revoke_token/", form: [("token", token)], basic: (user: clientID, password: clientSecret))
        try Self.expectOK(response, "revocation")
    }

    /// How many requests reached the introspection endpoint since the start or the last reset
    /// (failed and delayed ones too).
    public func introspectionCount() async throws -> Int {
        let response = try await httpRequest(port: port, .GET, "/test/introspections")
        guard response.status == 200, let count = response.json["count"]?.intValue else {
            throw IdPFailure(description: "the introspection count answered \(response.status): \(response.text)")
        }
        return count
    }

    public func resetIntrospectionCount() async throws {
        try await Self.expectOK(post("/test/introspections/reset", form: []), "resetting the introspection count")
    }

    /// Every introspection request waits this long before it is answered (0: none).
    public func setDelay(milliseconds: Int) async throws {
        try await Self.expectOK(post("/test/delay", form: [("ms", String(milliseconds))]), "setting the delay")
    }

    /// Every introspection request is answered `status` with a small JSON error (0: stop).
    public func setFailure(status: Int) async throws {
        try await Self.expectOK(post("/test/fail", form: [("status", String(status))]), "setting the failure")
    }

    /// An RS256 JWT (`typ` `at+jwt`, `kid` of the newest key) with these claims as given; `iss`
    /// (`issuer`), `iat`, `exp` (now + 300 s) and `jti` are filled in when absent. A literal
    /// such as `["sub": "alice", "exp": 1]` works, strings or not.
    public func mintJWT(_ claims: [String: JSONValue]) async throws -> String {
        let body = JSONValue.object(claims).canonicalBytes
        let response = try await request(
            .POST, "/test/jwt", headers: [("content-type", "application/json"), ("content-length", String(body.count))], body: body)
        guard response.status == 200, let token = response.json["token"]?.stringValue else {
            throw IdPFailure(description: "minting a JWT answered \(response.status): \(response.text)")
        }
        return token
    }

    /// Adds a key, which signs from now on; the old ones stay in the JWKS unless `dropOld`.
    public func rotateKeys(dropOld: Bool) async throws {
        try await Self.expectOK(post(dropOld ? "/test/rotate?drop_old=1" : "/test/rotate", form: []), "rotating the keys")
    }

    // MARK: HTTP

    /// A form POST, always with a Content-Length (the server reads no chunked bodies).
    private func post(_ uri: String, form: [(String, String)], basic: (user: String, password: String)? = nil) async throws -> TestResponse {
        let body = Array(form.map { Self.formEncoded($0.0) + "=" + Self.formEncoded($0.1) }.joined(separator: "&").utf8)
        var headers = [("content-type", "application/x-www-form-urlencoded"), ("content-length", String(body.count))]
        if let basic {
            // RFC 6749 §2.3.1: each part form-encoded before they are joined.
            let pair = Self.formEncoded(basic.user) + ":" + Self.formEncoded(basic.password)
            headers.append(("authorization", "Basic " + Data(pair.utf8).base64EncodedString()))
        }
        return try await request(.POST, uri, headers: headers, body: body)
    }

    /// One request on a fresh connection: the server closes each one after its answer.
    private func request(_ method: HTTPMethod, _ uri: String, headers: [(String, String)], body: [UInt8]) async throws -> TestResponse {
        let connection = try await TestConnection.open(port: port)
        defer { Task { await connection.close() } }
        return try await connection.request(method, uri, headers: headers, body: body.isEmpty ? [] : [body])
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// `application/x-www-form-urlencoded`: everything but unreserved characters percent-encoded.
    private static func formEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static func expectOK(_ response: TestResponse, _ what: String) throws {
        guard response.status == 200 else { throw IdPFailure(description: "\(what) answered \(response.status): \(response.text)") }
    }
}

public struct IdPFailure: Error, CustomStringConvertible {
    public let description: String
}
