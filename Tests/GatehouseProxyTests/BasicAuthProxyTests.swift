import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@testable import GatehouseProxy

/// A `basic-auth` policy on a running proxy, against the credentials the admin API makes
/// (PBKDF2-SHA256, 100,000 iterations).
@Suite struct BasicAuthProxyTests {
    /// A basic-auth credential's stored hash, made the way the admin API makes it.
    static func hash(_ password: String) throws -> String {
        let (credential, _) = try Credential.create(
            ["type": "basic-auth", "username": "alice", "password": .string(password)], id: "00000000-0000-4000-8000-0000000000e1",
            randomKey: { "" })
        return try #require(credential.json()["password_hash"]?.stringValue)
    }

    static let rightHash = Mutex<String?>(nil)

    /// Made once: the model's PBKDF2 is slow in a debug build.
    static func right() throws -> String {
        if let made = rightHash.withLock({ $0 }) { return made }
        let made = try hash("correct horse battery")
        rightHash.withLock { $0 = made }
        return made
    }

    static func consumers(hash: String) -> [JSONValue] {
        [
            [
                "id": "00000000-0000-4000-8000-0000000000c9", "name": "alice",
                "credentials": [
                    ["id": "00000000-0000-4000-8000-0000000000e1", "type": "basic-auth", "username": "alice", "password_hash": .string(hash)]
                ],
            ]
        ]
    }

    static func basic(_ user: String, _ password: String) -> (String, String) {
        ("authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())
    }

    struct Setup {
        let proxy: ProxyHarness
        let upstream: TestUpstream
        let clock: TestWallClock
        let state: PolicyState

        func apply(version: Int, hash: String, config: JSONValue = [:]) throws {
            let rejection = try proxy.apply(
                version: version, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
                routes: [["name": "api", "paths": ["/api"], "upstream": "u"], ["name": "open", "paths": ["/open"], "upstream": "u"]],
                policies: [["name": "passwords", "type": "basic-auth", "route": "api", "config": config]],
                consumers: BasicAuthProxyTests.consumers(hash: hash))
            #expect(rejection == nil)
        }

        func get(_ credentials: (String, String)?, path: String = "/api") async throws -> TestResponse {
            try await httpRequest(port: proxy.port, .GET, path, headers: credentials.map { [$0] } ?? [])
        }
    }

    func start(config: JSONValue = [:], group: MultiThreadedEventLoopGroup = .singleton) async throws -> Setup {
        let upstream = try await TestUpstream.start()
        let clock = TestWallClock()
        let state = clock.policyState()
        let proxy = try await ProxyHarness.start(group: group, policies: state)
        let setup = Setup(proxy: proxy, upstream: upstream, clock: clock, state: state)
        try setup.apply(version: 1, hash: try Self.right(), config: config)
        return setup
    }

    @Test func theRightPasswordPassesAndIsRememberedAndAWrongOneIsRefused() async throws {
        let setup = try await start()
        let metrics = setup.state.metrics
        let passed = try await setup.get(Self.basic("alice", "correct horse battery"))
        #expect(passed.status == 200)
        #expect(passed.json["headers"]?["x-consumer-name"] == ["alice"])
        #expect(passed.json["headers"]?["authorization"] == nil)
        #expect(try await setup.get(Self.basic("alice", "correct horse battery")).status == 200)
        #expect(metrics.decisions(.basicAuth, .allowed) == 1)
        #expect(metrics.decisions(.basicAuth, .remembered) == 1)

        for credentials in [Self.basic("alice", "wrong horse battery"), Self.basic("mallory", "correct horse battery")] {
            let refused = try await setup.get(credentials)
            #expect(refused.status == 401)
            #expect(refused.json["error"]?["message"] == "the username or password is not valid")
            #expect(refused.header("www-authenticate") == "Basic realm=\"gatehouse\", charset=\"UTF-8\"")
        }
        let malformed = try await setup.get(("authorization", "Basic not*base64"))
        #expect(malformed.status == 401)
        #expect(malformed.json["error"]?["message"] == "the Authorization header is not Basic credentials (base64 of username:password)")
        let none = try await setup.get(nil)
        #expect(none.status == 401)
        #expect(none.json["error"]?["message"] == "no credentials: send a username and password (HTTP Basic)")
        #expect(metrics.decisions(.basicAuth, .wrongPassword) == 2)
        #expect(metrics.decisions(.basicAuth, .malformed) == 1)
    }

    @Test func failedAttemptsAreLimitedPerClientWithoutADerivation() async throws {
        let setup = try await start(config: ["failures_per_minute": 3])
        for attempt in 0..<3 { #expect(try await setup.get(Self.basic("alice", "guess-\(attempt)")).status == 401) }
        let throttled = try await setup.get(Self.basic("alice", "correct horse battery"))
        #expect(throttled.status == 429)
        #expect(throttled.header("retry-after") == "60")
        #expect(throttled.json["error"]?["code"] == "too_many_failures")
        #expect(setup.state.metrics.decisions(.basicAuth, .throttled) == 1)
        // The next minute the client may try again.
        setup.clock.advance(by: 60_000)
        #expect(try await setup.get(Self.basic("alice", "correct horse battery")).status == 200)
    }

    @Test func aClientOverItsLimitIsRefusedEvenAPasswordRememberedAsGood() async throws {
        let setup = try await start(config: ["failures_per_minute": 3])
        #expect(try await setup.get(Self.basic("alice", "correct horse battery")).status == 200)
        for attempt in 0..<3 { #expect(try await setup.get(Self.basic("alice", "guess-\(attempt)")).status == 401) }
        #expect(try await setup.get(Self.basic("alice", "correct horse battery")).status == 429)
    }

    @Test func guessesSentAtOnceAreHeldToTheLimitToo() async throws {
        // The pool kept busy by the test: every check waits, and counts while it does.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let setup = try await start(config: ["failures_per_minute": 3], group: group)
        let gate = Gate()
        let blockers = (0..<PasswordChecker.poolThreads).map { _ in PasswordChecker.pool.runIfActive(eventLoop: group.next()) { gate.wait() } }
        try await waitUntil("the pool to be busy") { gate.waiting == PasswordChecker.poolThreads }
        let statuses = Task {
            try await withThrowingTaskGroup(of: Int.self) { tasks in
                for attempt in 0..<10 { tasks.addTask { try await setup.get(Self.basic("alice", "burst-\(attempt)")).status } }
                return try await tasks.reduce(into: [Int]()) { $0.append($1) }.sorted()
            }
        }
        try await waitUntil("7 guesses refused") { setup.state.metrics.decisions(.basicAuth, .throttled) == 7 }
        #expect(setup.state.passwordChecksPending == 3)
        gate.open()
        #expect(try await statuses.value == [401, 401, 401, 429, 429, 429, 429, 429, 429, 429])
        for blocker in blockers { try await blocker.get() }
        try await group.shutdownGracefully()
    }

    @Test func aChangedPasswordIsNotRememberedFromTheOldOne() async throws {
        let setup = try await start()
        #expect(try await setup.get(Self.basic("alice", "correct horse battery")).status == 200)
        try setup.apply(version: 2, hash: try Self.hash("a new password, longer"))
        #expect(try await setup.get(Self.basic("alice", "correct horse battery")).status == 401)
        #expect(try await setup.get(Self.basic("alice", "a new password, longer")).status == 200)
    }

    @Test func passwordsAreCheckedOffTheEventLoop() async throws {
        // One event loop for every connection, and the password pool kept busy by the test: a
        // request with no credential to check is answered while the check waits.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let setup = try await start(group: group)
        let gate = Gate()
        let blockers = (0..<PasswordChecker.poolThreads).map { _ in PasswordChecker.pool.runIfActive(eventLoop: group.next()) { gate.wait() } }
        try await waitUntil("the pool to be busy") { gate.waiting == PasswordChecker.poolThreads }
        async let checked = setup.get(Self.basic("alice", "correct horse battery"))
        try await waitUntil("the check to wait for the pool") { setup.state.passwordChecksPending == 1 }
        let open = try await setup.get(nil, path: "/open")
        #expect(open.status == 200)
        #expect(setup.state.passwordChecksPending == 1)
        gate.open()
        #expect(try await checked.status == 200)
        for blocker in blockers { try await blocker.get() }
        try await group.shutdownGracefully()
    }
}

/// Holds pool threads until opened.
final class Gate: Sendable {
    private let state = Mutex((open: false, waiting: 0))
    private let condition = NSCondition()

    var waiting: Int { state.withLock { $0.waiting } }

    func wait() {
        state.withLock { $0.waiting += 1 }
        condition.lock()
        while !state.withLock({ $0.open }) { condition.wait() }
        condition.unlock()
    }

    func open() {
        condition.lock()
        state.withLock { $0.open = true }
        condition.broadcast()
        condition.unlock()
    }
}
