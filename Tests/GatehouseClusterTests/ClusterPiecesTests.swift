import Foundation
import GatehouseModel
import GatehouseTestSupport
import Synchronization
import Testing

@testable import GatehouseCluster

@Suite struct ClusterFrameTests {
    static func snapshot(version: Int, routes: Int = 3) throws -> Snapshot {
        var document = ConfigDocument()
        document.upstreams = [
            try Upstream.read(["name": "u", "targets": [["target": "127.0.0.1:9000"]]], id: "00000000-0000-4000-8000-000000000000")
        ]
        document.routes = try (0..<routes).map { index in
            try Route.read(
                ["name": .string("r\(index)"), "paths": [.string("/r\(index)")], "upstream": "u"],
                id: "00000000-0000-4000-8000-" + String(format: "%012d", index + 1))
        }
        return Snapshot(version: version, document: document)
    }

    @Test func framesSurviveAnySplitAndCompress() throws {
        let snapshot = try Self.snapshot(version: 7, routes: 500)
        let frames = ClusterProtocol.snapshotFrame(snapshot) + ClusterProtocol.heartbeatFrame(version: 7)
        #expect(frames.count < snapshot.canonicalJSON.count / 4)
        var decoder = ClusterFrame.Decoder()
        var messages: [ClusterFrame.Message] = []
        var offset = 0
        for size in [1, 3, 7, 100, 5000, Int.max] where offset < frames.count {
            let end = offset + min(size, frames.count - offset)
            messages += try decoder.feed(frames[offset..<end])
            offset = end
        }
        messages += try decoder.feed(frames[offset...])
        #expect(messages.count == 2)
        let received = try ClusterProtocol.snapshot(from: messages[0])
        #expect(received.version == 7 && received.hash == snapshot.hash)
        #expect(received.document == snapshot.document)
        #expect(messages[1].header["type"] == "heartbeat")
        #expect(messages[1].body.isEmpty)
    }

    @Test func aDamagedFrameOrAMismatchedHashIsRefused() throws {
        let snapshot = try Self.snapshot(version: 1)
        var frame = ClusterProtocol.snapshotFrame(snapshot)
        frame[frame.count - 3] ^= 0xFF
        var decoder = ClusterFrame.Decoder()
        #expect(throws: ClusterFrame.Malformed.self) { try decoder.feed(frame) }

        // Intact frame, but a document that is not the one hashed.
        var tampered = snapshot.canonicalJSON
        tampered[tampered.count / 2] = UInt8(ascii: "x")
        var other = ClusterFrame.Decoder()
        let message = try #require(
            try other.feed(ClusterFrame.encode(["type": "snapshot", "version": 1, "hash": .string(snapshot.hash)], body: tampered)).first)
        #expect(throws: ClusterFrame.Malformed.self) { try ClusterProtocol.snapshot(from: message) }

        // A frame announcing more than the limit is refused before anything is allocated.
        var huge = ClusterFrame.Decoder()
        #expect(throws: ClusterFrame.Malformed.self) { try huge.feed([0, 0, 0, 16, 0x7F, 0xFF, 0xFF, 0xFF]) }
    }
}

@Suite struct DataPlaneRegistryTests {
    final class Clock: Sendable {
        let now = Mutex(Date(timeIntervalSince1970: 1_000_000))
        func advance(_ seconds: Double) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    static func hello(_ id: String, version: Int? = nil) -> ClusterProtocol.Hello {
        .init(
            nodeID: id, hostname: "host-\(id)", gatehouseVersion: "1.0", policyTypes: [], configVersion: version, configHash: version.map { "h\($0)" }
        )
    }

    @Test func statusFollowsAcksNacksAndTheCurrentVersion() throws {
        let registry = DataPlaneRegistry()
        registry.connected(Self.hello("a", version: 3))
        registry.connected(Self.hello("b"))
        registry.record(.init(nodeID: "b", kind: .applied, version: 4, hash: "h4"))
        #expect(!registry.record(.init(nodeID: "stranger", kind: .applied, version: 4, hash: "h4")))
        func statuses(_ current: Int) -> [String] { registry.json(currentVersion: current).arrayValue!.map { $0["status"]!.stringValue! } }
        #expect(statuses(4) == ["behind", "in_sync"])
        registry.record(.init(nodeID: "b", kind: .rejected, version: 5, hash: "h5", reason: "cannot enforce"))
        #expect(statuses(5) == ["behind", "rejected"])
        let b = registry.json(currentVersion: 5).arrayValue![1]
        #expect(b["error"] == "version 5: cannot enforce")
        #expect(b["config_version"] == 4)
        registry.record(.init(nodeID: "b", kind: .applied, version: 6, hash: "h6"))
        #expect(statuses(6) == ["behind", "in_sync"])
        registry.connected(Self.hello("c"), incompatible: "protocol 9")
        #expect(statuses(6) == ["behind", "in_sync", "incompatible"])
    }

    @Test func anAckIsTimedFromItsVersionsCommit() {
        let committed = ContinuousClock.now - .milliseconds(250)
        let registry = DataPlaneRegistry(committedAt: { $0 == 9 ? committed : nil })
        registry.connected(Self.hello("a"))
        registry.record(.init(nodeID: "a", kind: .applied, version: 9, hash: "h9"))
        let latency = registry.list().first?.applyLatency ?? .zero
        #expect(latency >= .milliseconds(250))
        if case .double(let ms) = registry.json(currentVersion: 9).arrayValue?.first?["apply_ms"] {
            #expect(ms >= 250)
        } else {
            Issue.record("no apply_ms")
        }
        // A version whose commit time is unknown gives no figure, rather than a wrong one.
        registry.record(.init(nodeID: "a", kind: .applied, version: 10, hash: "h10"))
        #expect(registry.list().first?.applyLatency == nil)
    }

    @Test func dataPlanesGoneLongerThanThePurgeDelayAreRemoved() {
        let clock = Clock()
        let registry = DataPlaneRegistry(purgeDelay: .seconds(60), now: { clock.now.withLock { $0 } })
        registry.connected(Self.hello("gone"))
        registry.connected(Self.hello("here"))
        registry.disconnected("gone")
        registry.disconnected("here")
        clock.advance(30)
        registry.record(.init(nodeID: "here", kind: .heartbeat, version: nil, hash: nil))
        clock.advance(45)
        #expect(registry.list().map(\.hello.nodeID) == ["here"])
    }
}

@Suite struct SnapshotCacheTests {
    @Test func aStoredSnapshotLoadsBackAndATamperedOneIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let cache = SnapshotCache(directory: dir.file("cache"))
        #expect(try cache.load() == nil)
        let snapshot = try ClusterFrameTests.snapshot(version: 4)
        try cache.store(snapshot)
        let loaded = try #require(try cache.load())
        #expect(loaded.version == 4 && loaded.hash == snapshot.hash)
        #expect(!FileManager.default.fileExists(atPath: dir.file("cache/snapshot.json.tmp")))

        let text = try String(contentsOfFile: dir.file("cache/snapshot.json"), encoding: .utf8)
        #expect(text.contains("/r1"))
        try text.replacingOccurrences(of: "/r1", with: "/admin").write(toFile: dir.file("cache/snapshot.json"), atomically: true, encoding: .utf8)
        #expect(throws: SnapshotCache.Unusable.self) { try cache.load() }
        try "{not json".write(toFile: dir.file("cache/snapshot.json"), atomically: true, encoding: .utf8)
        #expect(throws: SnapshotCache.Unusable.self) { try cache.load() }
    }

    @Test func theNodeIDIsKeptAcrossRestarts() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let first = try SnapshotCache(directory: dir.path).nodeID()
        #expect(try SnapshotCache(directory: dir.path).nodeID() == first)
        #expect(UUID(uuidString: first) != nil)
    }
}
