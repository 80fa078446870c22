import Foundation
import GatehouseTestSupport
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import GatehouseProxy

/// The status port's `/metrics` as scrapers fetch it: gzipped when they accept it (Prometheus
/// does), the same document either way.
@Suite struct MetricsScrapeTests {
    /// What `gzip -dc` makes of `bytes`: the real tool, not our own inflate.
    static func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("scrape-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("metrics.gz")
        try Data(bytes).write(to: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc", file.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return [UInt8](data)
    }

    @Test func aScraperThatAcceptsGzipGetsTheSameDocumentGzipped() async throws {
        // Many routes' worth of lines: big enough that gzip matters, rendered slowly enough to be cached.
        let lines = (0..<20_000).map { "gatehouse_http_requests_total{route=\"r\($0)\",code=\"200\",source=\"upstream\"} \($0)\n" }.joined()
        let state = DataPlaneState()
        let group = StatusServer.makeGroup()
        let status = try await StatusServer.bind(
            ListenAddress(host: "127.0.0.1", port: 0), group: group, state: state, extraMetrics: { lines }, logger: Logger(label: "test"))
        let port = status.localAddress.port!
        let plain = try await httpRequest(port: port, .GET, "/metrics")
        #expect(plain.status == 200)
        #expect(plain.header("content-encoding") == nil)
        #expect(plain.text.hasSuffix(lines))
        let gzipped = try await httpRequest(port: port, .GET, "/metrics", headers: [("Accept-Encoding", "gzip")])
        #expect(gzipped.status == 200)
        #expect(gzipped.header("content-encoding") == "gzip")
        #expect(gzipped.header("vary") == "accept-encoding")
        #expect(gzipped.body.count * 10 < plain.body.count)
        let unzipped = String(decoding: try Self.gunzip(gzipped.body), as: UTF8.self)
        // The same families in the same order (uptime and process figures may tick between the two scrapes).
        #expect(unzipped.hasSuffix(lines))
        func series(_ text: String) -> [Substring] { text.split(separator: "\n").map { $0.prefix { $0 != " " } } }
        #expect(series(unzipped) == series(plain.text))
        // A weight of zero refuses gzip.
        let refused = try await httpRequest(port: port, .GET, "/metrics", headers: [("Accept-Encoding", "gzip;q=0, identity")])
        #expect(refused.header("content-encoding") == nil)
        #expect(refused.text.hasSuffix(lines))
        try await group.shutdownGracefully()
    }

    @Test func acceptEncodingIsReadWithItsWeights() {
        func accepts(_ values: [String]) -> Bool {
            var headers = HTTPHeaders()
            for value in values { headers.add(name: "Accept-Encoding", value: value) }
            return StatusHandler.acceptsGzip(headers)
        }
        #expect(accepts(["gzip"]))
        #expect(accepts(["GZIP"]))
        #expect(accepts(["deflate, gzip;q=0.5"]))
        #expect(accepts(["deflate", "gzip"]))
        #expect(accepts(["*"]))
        #expect(accepts(["x-gzip"]))
        #expect(!accepts([]))
        #expect(!accepts(["identity"]))
        #expect(!accepts(["gzip;q=0"]))
        #expect(!accepts(["gzip; q=0.0"]))
        #expect(!accepts(["*, gzip;q=0"]))
        #expect(!accepts(["*;q=0"]))
        #expect(!accepts(["br"]))
        #expect(!accepts(["gzip;q=abc"]))
        #expect(!accepts(["gzip;q=1.5"]))
    }
}
