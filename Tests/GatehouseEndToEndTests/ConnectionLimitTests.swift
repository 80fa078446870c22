import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

/// A proxy out of connections or file descriptors waits and says so, without spinning, and the
/// status and admin ports go on answering.
@Suite(.serialized) struct ConnectionLimitTests {
    static func setLimit(openFiles: Int, of gatehouse: GatehouseProcess) async throws -> Int32 {
        let pid = try #require(try await httpRequest(port: gatehouse.ports.status, .GET, "/status").json["pid"]?.intValue)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        process.arguments = ["--pid", "\(pid)", "--nofile=\(openFiles):\(openFiles)"]
        try process.run()
        #expect(await process.exited() == 0)
        return Int32(pid)
    }

    static func openDescriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }

    @Test func pastTheConnectionLimitClientsWaitUntilOneCloses() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"), extraArguments: ["--max-connections", "4", "--workers", "1"])
        defer { gatehouse.stop() }
        try await gatehouse.routeEverything(to: upstream)
        var held: [RawConnection] = []
        for _ in 0..<4 {
            let connection = try await RawConnection.open(port: gatehouse.ports.proxy)
            try await connection.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            _ = try await connection.received(containing: "200 OK")
            held.append(connection)
        }
        let waiting = try await RawConnection.open(port: gatehouse.ports.proxy)
        try await waiting.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        try await waitUntil("the limit logged") { gatehouse.output.contains("connection limit reached") }
        #expect(try await httpRequest(port: gatehouse.ports.status, .GET, "/status/live").status == 200)
        #expect(try await httpRequest(port: gatehouse.ports.admin, .GET, "/upstreams").status == 200)
        await held[0].close()
        #expect(try await waiting.received(containing: "\r\n\r\n").hasPrefix("HTTP/1.1 200 OK"))
        for connection in held.dropFirst() + [waiting] { await connection.close() }
    }

    @Test func withALowOpenFileLimitTheStatusAndAdminPortsStillAnswer() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"), openFileLimit: 120)
        defer { gatehouse.stop() }
        try await gatehouse.routeEverything(to: upstream)
        let pid = try #require(try await httpRequest(port: gatehouse.ports.status, .GET, "/status").json["pid"]?.intValue.map(Int32.init))
        var clients: [RawConnection] = []
        for _ in 0..<130 { clients.append(try await RawConnection.open(port: gatehouse.ports.proxy)) }
        try await waitUntil("the limit logged") { gatehouse.output.contains("connection limit reached") }
        #expect(Self.openDescriptors(pid) < 120)
        #expect(try await httpRequest(port: gatehouse.ports.status, .GET, "/status/live").status == 200)
        #expect(try await httpRequest(port: gatehouse.ports.admin, .GET, "/upstreams").status == 200)
        #expect(try await httpRequest(port: gatehouse.ports.admin, .POST, "/consumers", json: ["name": "c"]).status == 201)
        #expect(!gatehouse.output.contains("cannot accept connections"))
        for client in clients { await client.close() }
        #expect(try await httpRequest(port: gatehouse.ports.proxy, .GET, "/").status == 200)
    }

    @Test func outOfFileDescriptorsTheProxyPausesLogsOnceAndRecovers() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        // No connection limit to speak of: the descriptors run out first.
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"), extraArguments: ["--max-connections", "100000", "--workers", "1"])
        defer { gatehouse.stop() }
        try await gatehouse.routeEverything(to: upstream)
        let pid = try #require(try await httpRequest(port: gatehouse.ports.status, .GET, "/status").json["pid"]?.intValue)
        _ = try await Self.setLimit(openFiles: Self.openDescriptors(Int32(pid)) + 8, of: gatehouse)
        var clients: [RawConnection] = []
        for _ in 0..<40 { clients.append(try await RawConnection.open(port: gatehouse.ports.proxy)) }
        try await waitUntil("the failure logged") { gatehouse.output.contains("cannot accept connections") }
        // More clients keep the accept failing; still one line for the run of failures.
        for _ in 0..<20 { clients.append(try await RawConnection.open(port: gatehouse.ports.proxy)) }
        for client in clients { await client.close() }
        // Recovery is logged a second after an accept succeeds with no failure since. When the
        // last queued client was taken by an attempt that failed, no accept follows until a new
        // client comes: each poll brings one.
        try await waitUntil("accepting again") {
            _ = try? await httpRequest(port: gatehouse.ports.proxy, .GET, "/")
            return gatehouse.output.contains("accepting connections again")
        }
        #expect(gatehouse.output.components(separatedBy: "cannot accept connections").count == 2)
        #expect(try await httpRequest(port: gatehouse.ports.proxy, .GET, "/").status == 200)
        let metrics = try await httpRequest(port: gatehouse.ports.status, .GET, "/metrics").text
        let failures = metrics.split(separator: "\n").first { $0.hasPrefix("gatehouse_accept_failures_total ") }
        #expect(failures.flatMap { Int($0.split(separator: " ")[1]) }.map { $0 > 0 } == true, "\(String(describing: failures))")
    }
}
