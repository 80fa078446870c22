import Foundation
import GatehouseAdmin
import GatehouseModel
import GatehouseStore
import GatehouseTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// Admin tokens and roles, and the audit trail, through the admin API in-process over a real
/// SQLite file.
@Suite struct AdminAuthTests {
    static let bootstrap = "bootstrap-secret-0123456789abcdef"

    /// Runs `body` against an API with authentication on over the database in `directory`.
    @discardableResult
    static func withAPI<Value: Sendable>(
        _ directory: TemporaryDirectory, bootstrap: String? = AdminAuthTests.bootstrap, _ body: @Sendable (AdminHarness.Client) async throws -> Value
    ) async throws -> Value {
        let store = try ConfigStore(path: directory.file("gatehouse.db"))
        var options = AdminHarness.defaultOptions
        options.auth = AdminAuth.Settings(enabled: true, bootstrap: bootstrap)
        let api = try AdminAPI(store: store, options: options, logger: Logger(label: "test"))
        return try await Application(router: api.router()).test(.router) { client in try await body(AdminHarness.Client(client: client)) }
    }

    static func bearer(_ token: String, agent: String? = nil) -> HTTPFields {
        var fields: HTTPFields = [.authorization: "Bearer \(token)"]
        if let agent { fields[.userAgent] = agent }
        return fields
    }

    static func create(_ client: AdminHarness.Client, _ name: String, _ role: String, as token: String = bootstrap) async throws -> String {
        let created = try await client.call(.post, "/admin-tokens", ["name": .string(name), "role": .string(role)], headers: bearer(token))
        #expect(created.status == 201, "\(created.json)")
        return try #require(created.json["token"]?.stringValue)
    }

    @Test func eachRoleMayDoWhatItMayAndGets403ForTheRest() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await Self.withAPI(directory) { client async throws -> Void in
            let viewer = try await Self.create(client, "ops-view", "viewer")
            let editor = try await Self.create(client, "ci", "editor")
            let admin = try await Self.create(client, "root", "admin")
            let upstream: JSONValue = ["name": "api", "targets": [["target": "127.0.0.1:9000"]]]
            // (method, path, body, least role)
            let calls: [(HTTPRequest.Method, String, JSONValue?, Int)] = [
                (.get, "/routes", nil, 0), (.get, "/config", nil, 0), (.get, "/versions", nil, 0), (.get, "/metrics", nil, 0),
                (.post, "/explain", ["method": "GET", "path": "/"], 0), (.put, "/config?dry_run=true", ["format_version": 1], 0),
                (.post, "/upstreams", upstream, 1), (.put, "/config", ["format_version": 1, "upstreams": [upstream]], 1),
                (.post, "/versions/1/rollback", nil, 1), (.delete, "/upstreams/api", nil, 1),
                (.get, "/admin-tokens", nil, 2), (.post, "/admin-tokens", ["name": "more", "role": "viewer"], 2),
            ]
            for (method, path, body, least) in calls {
                for (rank, token) in [viewer, editor, admin].enumerated() {
                    let answer = try await client.call(method, path, body, headers: Self.bearer(token))
                    if rank < least {
                        #expect(answer.status == 403, "\(method) \(path) as rank \(rank)")
                        #expect(answer.errorCode == "forbidden")
                    } else {
                        #expect(answer.status != 401 && answer.status != 403, "\(method) \(path) as rank \(rank): \(answer.status) \(answer.json)")
                    }
                    // Each creating call is made once only.
                    if rank >= least, method == .post, path == "/admin-tokens" { break }
                }
            }
            // Any spelling of the tokens' path needs the admin role.
            for path in ["//admin-tokens", "/admin-tokens/", "/%61dmin-tokens", "/Admin-Tokens"] {
                #expect(try await client.call(.get, path, headers: Self.bearer(editor)).status == 403, "\(path)")
            }
            // `dry_run` the handler would not read as a dry run is a write.
            let unclear = try await client.call(.put, "/config?dry_run=perhaps", ["format_version": 1], headers: Self.bearer(viewer))
            #expect(unclear.status == 403)
        }
    }

    @Test func aViewerReadsTheConfigWithoutCredentialHashes() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await Self.withAPI(directory) { client async throws -> Void in
            let viewer = try await Self.create(client, "ops-view", "viewer")
            let editor = try await Self.create(client, "ci", "editor")
            #expect(try await client.call(.post, "/consumers", ["name": "alice"], headers: Self.bearer(editor)).status == 201)
            let key = try await client.call(
                .post, "/consumers/alice/credentials", ["type": "key-auth", "key": "weakkey000000001"], headers: Self.bearer(editor))
            #expect(key.status == 201)
            let password = try await client.call(
                .post, "/consumers/alice/credentials", ["type": "basic-auth", "username": "alice", "password": "a-password-1"], headers: Self.bearer(editor))
            #expect(password.status == 201)
            let keyHash = Credential.hashKey("weakkey000000001")
            let etag = try #require(try await client.call(.get, "/config", headers: Self.bearer(editor)).headers[.eTag])
            func text(_ reply: AdminHarness.Reply) -> String { String(decoding: reply.json.canonicalBytes, as: UTF8.self) }
            for path in ["/config", "/versions/\(etag.filter(\.isNumber))"] {
                let shown = text(try await client.call(.get, path, headers: Self.bearer(editor)))
                #expect(shown.contains(keyHash) && shown.contains("password_hash"), "\(path) as an editor")
                // A viewer may read the config, not search a short key's hash offline.
                let hidden = try await client.call(.get, path, headers: Self.bearer(viewer))
                #expect(hidden.status == 200)
                #expect(!text(hidden).contains(keyHash) && !text(hidden).contains("key_hash") && !text(hidden).contains("password_hash"), "\(path) as a viewer")
                #expect(text(hidden).contains("\"username\":\"alice\""), "\(text(hidden))")
            }
        }
    }

    @Test func noTokenOrAWrongOneIs401AndRepeatedFailuresAreSlowedDown() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await Self.withAPI(directory) { client async throws -> Void in
            let none = try await client.call(.get, "/routes")
            #expect(none.status == 401)
            #expect(none.errorCode == "unauthorized")
            #expect(none.headers[.wwwAuthenticate] == "Bearer realm=\"gatehouse-admin\"")
            for wrong in ["Bearer nope", "Basic Ym9vdHN0cmFw", "Bearer gh_0123456789abcdef_" + String(repeating: "0", count: 64), "bearer", Self.bootstrap] {
                let answer = try await client.call(.get, "/routes", headers: [.authorization: wrong])
                #expect(answer.status == 401, "\(wrong)")
            }
            // Six failures so far; the tenth is the last judged.
            for _ in 0..<4 { #expect(try await client.call(.get, "/routes", headers: Self.bearer("wrong")).status == 401) }
            let blocked = try await client.call(.get, "/routes", headers: Self.bearer(Self.bootstrap))
            #expect(blocked.status == 429)
            #expect(blocked.errorCode == "too_many_failures")
            #expect(blocked.headers[.retryAfter] != nil)
        }
    }

    @Test func tokensAreListedWithoutSecretsAndTheBootstrapCanBeRevoked() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let admin = try await Self.withAPI(directory) { client async throws -> String in
            // The bootstrap alone cannot be revoked: nobody could manage tokens after.
            let lone = try await client.call(.delete, "/admin-tokens/bootstrap", headers: Self.bearer(Self.bootstrap))
            #expect(lone.status == 409)
            let admin = try await Self.create(client, "root", "admin")
            let list = try await client.call(.get, "/admin-tokens", headers: Self.bearer(admin))
            #expect(list.json["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["bootstrap", "root"])
            let text = list.json.canonicalString
            #expect(!text.contains(admin.split(separator: "_").last!))
            #expect(!text.contains("hash"))
            #expect(!text.contains(Self.bootstrap))
            #expect(try await client.call(.delete, "/admin-tokens/bootstrap", headers: Self.bearer(admin)).status == 204)
            #expect(try await client.call(.get, "/routes", headers: Self.bearer(Self.bootstrap)).status == 401)
            // The last admin token stays.
            #expect(try await client.call(.delete, "/admin-tokens/root", headers: Self.bearer(admin)).status == 409)
            // A viewer revoked is refused at once.
            let viewer = try await Self.create(client, "view", "viewer", as: admin)
            #expect(try await client.call(.get, "/routes", headers: Self.bearer(viewer)).status == 200)
            #expect(try await client.call(.delete, "/admin-tokens/view", headers: Self.bearer(admin)).status == 204)
            #expect(try await client.call(.get, "/routes", headers: Self.bearer(viewer)).status == 401)
            // Names are checked, and kept for the audit trail's own words.
            for name in ["local", "config-dir", "Bad Name", ""] {
                let refused = try await client.call(.post, "/admin-tokens", ["name": .string(name), "role": "viewer"], headers: Self.bearer(admin))
                #expect(refused.status == 400, "\(name)")
            }
            #expect(try await client.call(.post, "/admin-tokens", ["name": "x", "role": "root"], headers: Self.bearer(admin)).status == 400)
            #expect(try await client.call(.post, "/admin-tokens", ["name": "root", "role": "viewer"], headers: Self.bearer(admin)).status == 409)
            return admin
        }
        // After a restart: tokens kept, the revoked bootstrap still refused.
        try await Self.withAPI(directory) { client async throws -> Void in
            #expect(try await client.call(.get, "/routes", headers: Self.bearer(admin)).status == 200)
            #expect(try await client.call(.get, "/routes", headers: Self.bearer(Self.bootstrap)).status == 401)
        }
        // A new bootstrap secret gets in again: whoever sets the environment owns the process.
        try await Self.withAPI(directory, bootstrap: "another-bootstrap-secret-0123") { client async throws -> Void in
            #expect(try await client.call(.get, "/routes", headers: Self.bearer("another-bootstrap-secret-0123")).status == 200)
        }
    }

    @Test func twoAdminsRevokingEachOtherAtOnceLeaveOne() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await Self.withAPI(directory) { client async throws -> Void in
            let first = try await Self.create(client, "first", "admin")
            let second = try await Self.create(client, "second", "admin")
            #expect(try await client.call(.delete, "/admin-tokens/bootstrap", headers: Self.bearer(first)).status == 204)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                group.addTask { try await client.call(.delete, "/admin-tokens/second", headers: Self.bearer(first)).status }
                group.addTask { try await client.call(.delete, "/admin-tokens/first", headers: Self.bearer(second)).status }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            // One revoke wins; the other is refused as the last admin (409) or, when the first
            // finished before it was authenticated, as a revoked token (401).
            #expect(statuses.filter { $0 == 204 }.count == 1)
            #expect(statuses.allSatisfy { [204, 401, 409].contains($0) })
            let survivor = try await client.call(.get, "/admin-tokens", headers: Self.bearer(first))
            let other = try await client.call(.get, "/admin-tokens", headers: Self.bearer(second))
            #expect([survivor.status, other.status].sorted() == [200, 401])
        }
    }

    @Test func anAPIThatWouldRefuseEveryoneIsNotStarted() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try ConfigStore(path: directory.file("gatehouse.db"))
        var options = AdminHarness.defaultOptions
        options.auth = AdminAuth.Settings(enabled: true, bootstrap: nil)
        #expect(throws: AdminAuth.Unusable.self) { try AdminAPI(store: store, options: options, logger: Logger(label: "test")) }
    }

    @Test func everyVersionSaysWhoMadeItAndThroughWhat() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await Self.withAPI(directory) { client async throws -> Void in
            let editor = try await Self.create(client, "deployer", "editor")
            let upstream: JSONValue = ["name": "api", "targets": [["target": "127.0.0.1:9000"]]]
            #expect(try await client.call(.post, "/upstreams", upstream, headers: Self.bearer(editor)).status == 201)
            let sync = try await client.call(
                .put, "/config", ["format_version": 1, "upstreams": [upstream, ["name": "b", "targets": [["target": "127.0.0.1:9001"]]]]],
                headers: Self.bearer(editor, agent: "gatehouse/1.0 (sync)"))
            #expect(sync.status == 200)
            #expect(try await client.call(.post, "/versions/1/rollback", headers: Self.bearer(Self.bootstrap, agent: "curl/8 (x86_64)")).status == 201)
            let versions = try await client.call(.get, "/versions", headers: Self.bearer(editor))
            let entries = versions.json["data"]?.arrayValue ?? []
            #expect(entries.map { $0["author"]?.stringValue } == ["bootstrap", "deployer", "deployer"])
            #expect(entries.map { $0["via"]?.stringValue } == ["admin API", "gatehouse sync", "admin API"])
            #expect(entries.first?["summary"] == "rollback to version 1")
        }
    }
}
