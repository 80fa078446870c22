import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Synchronization
import Testing

/// Bodies stream through the real process with bounded memory, whatever their size.
@Suite(.serialized) struct BoundedMemoryTests {
    static let gibibyte = 1 << 30

    @Test func aGibibyteUploadAndDownloadKeepTheProcessUnder100MiB() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        try await gatehouse.routeEverything(to: upstream)

        let peak = Mutex(0)
        let sampler = Task {
            while !Task.isCancelled {
                let now = gatehouse.residentKiB
                peak.withLock { $0 = max($0, now) }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        let client = try await TestConnection.open(port: gatehouse.ports.proxy)
        let upload = try await client.stream(.POST, "/sink", bodyBytes: Self.gibibyte)
        #expect(upload.status == 200)
        let download = try await client.stream(.GET, "/bytes/\(Self.gibibyte)")
        #expect(download.status == 200)
        #expect(download.bodyBytes == Self.gibibyte)
        sampler.cancel()
        await client.close()
        let peakMiB = peak.withLock { $0 } / 1024
        #expect(peakMiB > 0)
        #expect(peakMiB < 100, "peak RSS \(peakMiB) MiB")
    }
}
