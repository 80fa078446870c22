import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

/// Upgrades with busy keep-alive clients: the new process is handed the old one's listening
/// sockets (no kernel setting needed), and the old one, draining, answers each connection's next
/// request with `Connection: close` instead of closing it under the client.
@Suite(.serialized) struct SocketHandoffTests {
    /// Keep-alive clients that send requests back to back, opening a new connection only after
    /// a response said `Connection: close`; anything else that ends a connection is a failure.
    static func keepAliveTraffic(port: Int, clients: Int, results: RequestTally) -> Task<Void, Never> {
        Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<clients {
                    group.addTask {
                        var connection: TestConnection?
                        while !Task.isCancelled {
                            do {
                                if connection == nil { connection = try await TestConnection.open(port: port) }
                                let response = try await connection!.request(.GET, "/traffic")
                                results.record(response.status == 200 ? nil : "status \(response.status)")
                                if response.header("connection")?.lowercased() == "close" {
                                    await connection?.close()
                                    connection = nil
                                }
                            } catch {
                                if !Task.isCancelled { results.record("\(error)") }
                                await connection?.close()
                                connection = nil
                            }
                        }
                        await connection?.close()
                    }
                }
            }
        }
    }

    @Test func upgradesUnderKeepAliveLoadFailNoRequest() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = dir.file("gatehouse.db")
        let upstream = try await TestUpstream.start()
        // The handoff socket by default: beside the database. A busy client is never idle for the
        // default 1 s grace, but this test's clients can be starved that long when the suite
        // loads the machine: the grace is longer here, so only the handoff and drain are tested.
        let grace = ["--drain-idle-grace", "20s"]
        var current = try await GatehouseProcess.serve(db: db, extraArguments: grace)
        try await current.routeEverything(to: upstream)
        let port = current.ports.proxy
        let results = RequestTally()
        let traffic = Self.keepAliveTraffic(port: port, clients: 8, results: results)
        try await waitUntil("traffic through the first process") { results.succeeded >= 50 }
        for round in 1...3 {
            let next = try await GatehouseProcess.serve(db: db, extraArguments: grace, proxyPort: port, standby: true)
            try await waitUntil("process \(round + 1) ready") {
                (try? await httpRequest(port: next.ports.status, .GET, "/status/ready").status) == 200
            }
            #expect(next.output.contains("proxy serves listening sockets it was given"), "round \(round)")
            #expect(next.output.contains("from=handed over"), "round \(round)")
            #expect(current.output.contains("listening sockets handed to a new process"), "round \(round)")
            let before = results.succeeded
            current.signal(SIGTERM)
            #expect(try await current.exitStatus() == 0)
            _ = try await next.adminPort()
            try await waitUntil("traffic through process \(round + 1) alone") { results.succeeded >= before + 100 }
            current = next
        }
        traffic.cancel()
        _ = await traffic.value
        #expect(results.failures == [], "\(results.failures.count) failed: \(results.failures.prefix(3))")
        #expect(await current.terminate() == 0)
    }

    @Test func aNewProcessThatDiesAfterTakingTheSocketsGivesThemBack() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = dir.file("gatehouse.db")
        let upstream = try await TestUpstream.start()
        let old = try await GatehouseProcess.serve(db: db)
        defer { old.stop() }
        try await old.routeEverything(to: upstream)
        let port = old.ports.proxy
        let new = try await GatehouseProcess.serve(db: db, proxyPort: port, standby: true)
        try await waitUntil("the new process to take the sockets") { old.output.contains("listening sockets handed to a new process") }
        new.signal(SIGKILL)
        _ = try await new.exitStatus()
        try await waitUntil("the old process to take them back") { old.output.contains("the process that took the listening sockets has ended") }
        // Answered by the old process: not left in an accept queue nobody reads.
        for _ in 0..<5 { #expect(try await httpRequest(port: port, .GET, "/x").status == 200) }
    }

    @Test func aHandoffPathThatIsNotASocketIsLeftAlone() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let precious = dir.file("precious.txt")
        try "keep me".write(toFile: precious, atomically: false, encoding: .utf8)
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"), extraArguments: ["--handoff-socket", precious])
        try await gatehouse.routeEverything(to: upstream)
        try await waitUntil("the refusal logged") { gatehouse.output.contains("exists and is not a socket") }
        #expect(await gatehouse.terminate() == 0)
        #expect(try String(contentsOfFile: precious, encoding: .utf8) == "keep me")
    }

    @Test func aDrainAnswersAnIdleConnectionsNextRequestWithClose() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"), extraArguments: ["--drain-timeout", "20s"])
        try await gatehouse.routeEverything(to: upstream)
        let connection = try await TestConnection.open(port: gatehouse.ports.proxy)
        #expect(try await connection.request(.GET, "/a").status == 200)
        // A request in flight keeps the drain going while the idle connection is tested.
        let slow = Task { try await httpRequest(port: gatehouse.ports.proxy, .GET, "/hold") }
        try await waitUntil("the held request at the upstream") { upstream.heldCount == 1 }
        gatehouse.signal(SIGTERM)
        try await waitUntil("the drain") { gatehouse.output.contains("proxy draining") }
        let next = try await connection.request(.GET, "/b")
        #expect(next.status == 200)
        #expect(next.header("connection")?.lowercased() == "close")
        upstream.release()
        #expect(try await slow.value.status == 200)
        #expect(try await gatehouse.exitStatus() == 0)
    }
}

