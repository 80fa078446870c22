import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Synchronization
import Testing

/// SIGTERM drains, and a second process takes over the same port without a failed request.
@Suite(.serialized) struct DrainAndUpgradeTests {
    @Test func sigtermDrainsAnInFlightRequestToCompletion() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        try await gatehouse.routeEverything(to: upstream)
        let idle = try await TestConnection.open(port: gatehouse.ports.proxy)
        #expect(try await idle.request(.GET, "/before").status == 200)
        let client = try await TestConnection.open(port: gatehouse.ports.proxy)
        let inFlight = Task { try await client.request(.GET, "/hold") }
        try await waitUntil("the upstream to hold the request") { upstream.heldCount == 1 }

        gatehouse.signal(SIGTERM)
        await idle.closed()
        #expect(idle.isClosed)
        try await waitUntil("readiness to go 503") {
            (try? await httpRequest(port: gatehouse.ports.status, .GET, "/status/ready").status) == 503
        }
        await #expect(throws: (any Error).self) { try await TestConnection.open(port: gatehouse.ports.proxy) }
        upstream.release()
        let response = try await inFlight.value
        #expect(response.status == 200)
        #expect(response.header("connection") == "close")
        #expect(try await gatehouse.exitStatus() == 0)
    }

    @Test func whatIsLeftAfterTheDrainTimeoutIsCutAndTheExitCodeSaysSo() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"), extraArguments: ["--drain-timeout", "300ms"])
        try await gatehouse.routeEverything(to: upstream)
        let inFlight = Task { try await httpRequest(port: gatehouse.ports.proxy, .GET, "/hold") }
        try await waitUntil("the upstream to hold the request") { upstream.heldCount == 1 }
        gatehouse.signal(SIGTERM)
        #expect(try await gatehouse.exitStatus() == 2)
        // Cut: the connection closes, or the gateway answers 502 as its upstream side goes first.
        let outcome = try? await inFlight.value
        #expect(outcome == nil || outcome?.status == 502)
        upstream.release()
    }

    @Test(.enabled(if: MigratingListeners.available, "needs net.ipv4.tcp_migrate_req=1, or root to set it"))
    func aNewProcessTakesOverThePortWithoutAFailedRequest() async throws {
        try await MigratingListeners.enabled {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let db = dir.file("gatehouse.db")
            let upstream = try await TestUpstream.start()
            let old = try await GatehouseProcess.serve(db: db)
            try await old.routeEverything(to: upstream)
            let port = old.ports.proxy

            let results = RequestTally()
            let traffic = Task {
                while !Task.isCancelled {
                    do {
                        let response = try await httpRequest(port: port, .GET, "/traffic", headers: [("Connection", "close")])
                        results.record(response.status == 200 ? nil : "status \(response.status)")
                    } catch {
                        results.record("\(error)")
                    }
                }
            }
            try await waitUntil("traffic through the old process") { results.succeeded >= 20 }

            let new = try await GatehouseProcess.serve(db: db, proxyPort: port, standby: true)
            try await waitUntil("the new process to be ready") {
                (try? await httpRequest(port: new.ports.status, .GET, "/status/ready").status) == 200
            }
            let beforeHandOver = results.succeeded
            old.signal(SIGTERM)
            #expect(try await old.exitStatus() == 0)
            let admin = try await new.adminPort()
            try await waitUntil("traffic through the new process alone") { results.succeeded >= beforeHandOver + 50 }
            traffic.cancel()
            _ = await traffic.result

            #expect(results.failures == [], "\(results.failures.prefix(3))")
            // The new process is the writer now: changes go through it.
            let created = try await httpRequest(port: admin, .POST, "/routes", json: ["name": "after", "paths": ["/after"], "upstream": "u"])
            #expect(created.status == 201)
            #expect(created.header("gatehouse-config-version") == "3")
            #expect(try await httpRequest(port: new.ports.status, .GET, "/status").json["control_plane"] == "writer")
            #expect(await new.terminate() == 0)
        }
    }
}

final class RequestTally: Sendable {
    private let state = Mutex<(succeeded: Int, failures: [String])>((0, []))
    func record(_ failure: String?) {
        state.withLock { state in
            if let failure { state.failures.append(failure) } else { state.succeeded += 1 }
        }
    }
    var succeeded: Int { state.withLock { $0.succeeded } }
    var failures: [String] { state.withLock { $0.failures } }
}

/// `net.ipv4.tcp_migrate_req=1` for the body: connections queued on a closing `SO_REUSEPORT`
/// listener move to the other listeners of its port instead of being reset (Linux 5.14+). The
/// upgrade procedure in docs/operations.md asks for the same setting.
enum MigratingListeners {
    static let path = "/proc/sys/net/ipv4/tcp_migrate_req"

    /// Already on, or this process may turn it on.
    static var available: Bool {
        (try? String(contentsOfFile: path, encoding: .utf8))?.hasPrefix("1") == true || FileManager.default.isWritableFile(atPath: path)
    }

    static func enabled(_ body: () async throws -> Void) async throws {
        let before = try String(contentsOfFile: path, encoding: .utf8)
        if !before.hasPrefix("1") { try "1".write(toFile: path, atomically: false, encoding: .utf8) }
        defer { if !before.hasPrefix("1") { try? before.write(toFile: path, atomically: false, encoding: .utf8) } }
        try await body()
    }
}
