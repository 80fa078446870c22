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

    static let signer = SnapshotSigner(token: "test-cluster-token-0123456789")
    static let epoch = "6f1c2a52-3b4d-4e5f-8a9b-0c1d2e3f4a5b"

    static func signed(_ snapshot: Snapshot, epoch: String = epoch) -> SignedSnapshot { SignedSnapshot(snapshot, epoch: epoch, signer: signer) }

    static func received(_ bytes: [UInt8]) throws -> [ClusterProtocol.Incoming] {
        var decoder = ClusterFrame.Decoder()
        return try decoder.feed(bytes).map { message throws(ClusterFrame.Malformed) in try ClusterProtocol.incoming(message, signer: signer) }
    }

    @Test func framesSurviveAnySplitAndCompress() throws {
        let snapshot = try Self.snapshot(version: 7, routes: 500)
        let frames = ClusterProtocol.snapshotFrame(Self.signed(snapshot)) + ClusterProtocol.heartbeatFrame(version: 7)
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
        guard case .snapshot(let received) = try ClusterProtocol.incoming(messages[0], signer: Self.signer) else {
            Issue.record("not a snapshot")
            return
        }
        #expect(received.snapshot.version == 7 && received.snapshot.hash == snapshot.hash && received.epoch == Self.epoch)
        #expect(received.snapshot.document == snapshot.document)
        guard case .heartbeat(version: 7) = try ClusterProtocol.incoming(messages[1], signer: Self.signer) else {
            Issue.record("not the heartbeat")
            return
        }
        #expect(messages[1].body.isEmpty)
    }

    @Test func aDamagedFrameOrAMismatchedHashIsRefused() throws {
        let snapshot = try Self.snapshot(version: 1)
        var frame = ClusterProtocol.snapshotFrame(Self.signed(snapshot))
        frame[frame.count - 3] ^= 0xFF
        #expect(throws: ClusterFrame.Malformed.self) { try Self.received(frame) }

        // Intact frame and signature, but a document that is not the one hashed.
        var tampered = snapshot.canonicalJSON
        tampered[tampered.count / 2] = UInt8(ascii: "x")
        let signature = Self.signer.signature(epoch: Self.epoch, version: 1, hash: snapshot.hash)
        let forgedBody = ClusterFrame.encode(
            ["type": "snapshot", "version": 1, "hash": .string(snapshot.hash), "epoch": .string(Self.epoch), "signature": .string(signature)], body: tampered)
        #expect(throws: ClusterFrame.Malformed.self) { try Self.received(forgedBody) }
    }

    @Test func aSnapshotSignedWithAnotherTokenOrForAnotherVersionIsRefused() throws {
        let snapshot = try Self.snapshot(version: 3)
        let outsider = SignedSnapshot(snapshot, epoch: Self.epoch, signer: SnapshotSigner(token: "someone-elses-token-0123456789"))
        let error = #expect(throws: ClusterFrame.Malformed.self) { try Self.received(ClusterProtocol.snapshotFrame(outsider)) }
        #expect(error?.description.contains("no valid signature") == true)

        // A genuine signature moved to another version or epoch does not carry over.
        let genuine = Self.signed(snapshot)
        for (version, epoch) in [(4, Self.epoch), (3, "00000000-0000-4000-8000-000000000000")] {
            let moved = ClusterFrame.encode(
                ["type": "snapshot", "version": .int(version), "hash": .string(snapshot.hash), "epoch": .string(epoch), "signature": .string(genuine.signature)],
                body: snapshot.canonicalJSON)
            #expect(throws: ClusterFrame.Malformed.self) { try Self.received(moved) }
        }
        // Without a signature at all.
        let unsigned = ClusterFrame.encode(["type": "snapshot", "version": 3, "hash": .string(snapshot.hash), "epoch": .string(Self.epoch)], body: snapshot.canonicalJSON)
        #expect(throws: ClusterFrame.Malformed.self) { try Self.received(unsigned) }
    }

    @Test func everyHeaderFieldAControlPlaneSendsIsCheckedInFormAndRange() throws {
        let snapshot = try Self.snapshot(version: 1)
        let signature = Self.signer.signature(epoch: Self.epoch, version: 1, hash: snapshot.hash)
        let good: [String: JSONValue] = [
            "type": "snapshot", "version": 1, "hash": .string(snapshot.hash), "epoch": .string(Self.epoch), "signature": .string(signature),
        ]
        #expect(try Self.received(ClusterFrame.encode(.object(good), body: snapshot.canonicalJSON)).count == 1)
        let bad: [(String, JSONValue)] = [
            ("version", .int(Int.min)), ("version", .int(-1)), ("version", .int(1 << 53)), ("version", "1"), ("hash", "abc"),
            ("hash", .string(snapshot.hash.uppercased())), ("epoch", "not-a-uuid"), ("signature", .string(String(signature.dropLast()))),
            ("extra", true), ("type", "shutdown"),
        ]
        for (field, value) in bad {
            var header = good
            header[field] = value
            #expect(throws: ClusterFrame.Malformed.self, "\(field): \(value)") {
                try Self.received(ClusterFrame.encode(.object(header), body: snapshot.canonicalJSON))
            }
        }
        for heartbeat: JSONValue in [["type": "heartbeat", "version": .int(Int.min)], ["type": "heartbeat", "version": 1, "more": 1], "[]"] {
            #expect(throws: ClusterFrame.Malformed.self) { try Self.received(ClusterFrame.encode(heartbeat)) }
        }
    }

    @Test func aFrameAnnouncingMoreThanTheLimitIsRefusedBeforeAnythingIsAllocated() throws {
        // What a forged control plane sent: a 500 KB frame announcing 512 MiB.
        var decoder = ClusterFrame.Decoder(maxMessageBytes: 1 << 20)
        let error = #expect(throws: ClusterFrame.Malformed.self) {
            try decoder.feed([0x00, 0x07, 0xA1, 0x20, 0x20, 0x00, 0x00, 0x00] + [UInt8](repeating: 0, count: 16))
        }
        #expect(error?.description.contains("over this data plane's limit of 1048576 (--cluster-max-frame-size") == true)

        // Under the limit, but more than its compressed length could ever inflate to.
        var other = ClusterFrame.Decoder(maxMessageBytes: 64 << 20)
        #expect(throws: ClusterFrame.Malformed.self) { try other.feed([0, 0, 0, 16, 0x01, 0x00, 0x00, 0x00]) }

        // A raised limit takes a frame the default refuses.
        let large = try Self.snapshot(version: 2, routes: 2000)
        let frame = ClusterProtocol.snapshotFrame(Self.signed(large))
        var raised = ClusterFrame.Decoder(maxMessageBytes: 1 << 20)
        #expect(try raised.feed(frame).count == 1)
    }

    @Test func aGenuineFrameOverTheLimitIsNamedFromItsHeaderAndPassedOverUnread() throws {
        let large = try Self.snapshot(version: 2, routes: 2000)
        let frame = ClusterProtocol.snapshotFrame(Self.signed(large))
        let next = ClusterProtocol.heartbeatFrame(version: 2)
        var small = ClusterFrame.Decoder(maxMessageBytes: 64 << 10)
        var messages: [ClusterFrame.Message] = []
        // In small pieces: the header comes from the first bytes, the rest is passed over as it comes.
        var offset = 0
        let bytes = frame + next
        while offset < bytes.count {
            let end = min(offset + 4096, bytes.count)
            messages += try small.feed(bytes[offset..<end])
            offset = end
        }
        #expect(messages.count == 2)
        #expect(messages[0].tooLarge == large.canonicalJSON.count + messages[0].header.canonicalBytes.count + 1)
        #expect(messages[0].body.isEmpty)
        guard case .tooLarge(let version, let hash, let epoch, let size) = try ClusterProtocol.incoming(messages[0], signer: Self.signer) else {
            Issue.record("not refused as too large")
            return
        }
        #expect(version == 2 && hash == large.hash && epoch == Self.epoch && size > 64 << 10)
        guard case .heartbeat(version: 2) = try ClusterProtocol.incoming(messages[1], signer: Self.signer) else {
            Issue.record("the stream did not go on after the frame passed over")
            return
        }
        // Signed with another token, the same header is refused: a forger cannot make a data plane report a version.
        let forged = ClusterProtocol.snapshotFrame(SignedSnapshot(large, epoch: Self.epoch, signer: SnapshotSigner(token: "another-token-0123456789")))
        var other = ClusterFrame.Decoder(maxMessageBytes: 64 << 10)
        let header = try #require(try other.feed(forged).first)
        #expect(throws: ClusterFrame.Malformed.self) { try ClusterProtocol.incoming(header, signer: Self.signer) }
    }
}

@Suite struct ClusterMessageTests {
    static let hash = String(repeating: "ab", count: 32)
    static let epoch = ClusterFrameTests.epoch

    @Test func reportsOutOfFormOrRangeAreRefused() throws {
        let good: [String: JSONValue] = ["node_id": "n1", "type": "applied", "version": 3, "hash": .string(Self.hash), "epoch": .string(Self.epoch)]
        #expect(try ClusterProtocol.Report(.object(good)) == .init(nodeID: "n1", kind: .applied, version: 3, hash: Self.hash, epoch: Self.epoch))
        let bad: [(String, JSONValue?)] = [
            ("version", .int(Int.min)), ("version", .int(-1)), ("version", .int(Int.max)), ("version", nil), ("version", .double(1.5)),
            ("hash", "x"), ("hash", nil), ("epoch", "x"), ("node_id", .string(String(repeating: "a", count: 129))), ("node_id", "a b"),
            ("type", "shutdown"), ("reason", "applied reports have none"), ("more", 1),
        ]
        for (field, value) in bad {
            var report = good
            report[field] = value
            #expect(throws: ClusterFrame.Malformed.self, "\(field): \(String(describing: value))") { try ClusterProtocol.Report(.object(report)) }
        }
        let rejected: JSONValue = ["node_id": "n1", "type": "rejected", "version": 4, "hash": .string(Self.hash)]
        #expect(throws: ClusterFrame.Malformed.self) { try ClusterProtocol.Report(rejected) }
        let longReason: JSONValue = [
            "node_id": "n1", "type": "rejected", "version": 4, "hash": .string(Self.hash), "reason": .string(String(repeating: "é", count: 4000)),
        ]
        #expect(throws: ClusterFrame.Malformed.self) { try ClusterProtocol.Report(longReason) }
        #expect(throws: ClusterFrame.Malformed.self) { try ClusterProtocol.Report(["node_id": "n1", "type": "heartbeat", "version": 4]) }
        #expect(try ClusterProtocol.Report(["node_id": "n1", "type": "heartbeat"]).version == nil)
    }

    @Test func aDataPlaneCutsItsOwnLongReasonToWhatTheControlPlaneTakes() throws {
        let report = ClusterProtocol.Report(
            nodeID: "n1", kind: .rejected, version: 4, hash: Self.hash, epoch: Self.epoch, reason: String(repeating: "é", count: 10_000))
        #expect(report.reason!.utf8.count <= ClusterProtocol.maxReasonBytes)
        #expect(report.reason!.hasSuffix("(cut)"))
        #expect(try ClusterProtocol.Report(report.json()) == report)
    }

    @Test func helloHeadersOutOfFormAreRefusedNamingTheHeader() throws {
        let good = [
            "gatehouse-node-id": "n1", "gatehouse-cluster-protocol": "1", "gatehouse-hostname": "host-1", "gatehouse-version": "1.0",
            "gatehouse-policy-types": "cors,key-auth", "gatehouse-config-version": "12", "gatehouse-config-hash": Self.hash,
            "gatehouse-config-epoch": Self.epoch,
        ]
        let hello = try ClusterProtocol.Hello(header: { good[$0] })
        #expect(hello.configVersion == 12 && hello.configEpoch == Self.epoch && hello.policyTypes == ["cors", "key-auth"])
        let bad: [(String, String?, String)] = [
            ("gatehouse-config-version", "-9223372036854775808", "Gatehouse-Config-Version"), ("gatehouse-config-version", "+5", "Gatehouse-Config-Version"),
            ("gatehouse-config-version", "99999999999999999999", "Gatehouse-Config-Version"), ("gatehouse-config-hash", nil, "go together"),
            ("gatehouse-config-hash", "x", "Gatehouse-Config-Hash"), ("gatehouse-config-epoch", "x", "Gatehouse-Config-Epoch"),
            ("gatehouse-hostname", String(repeating: "h", count: 300), "Gatehouse-Hostname"), ("gatehouse-hostname", "a\u{1}b", "Gatehouse-Hostname"),
            ("gatehouse-node-id", nil, "Gatehouse-Node-Id"), ("gatehouse-cluster-protocol", "-1", "Gatehouse-Cluster-Protocol"),
            ("gatehouse-policy-types", Array(repeating: "t", count: 65).joined(separator: ","), "Gatehouse-Policy-Types"),
        ]
        for (name, value, named) in bad {
            var headers = good
            headers[name] = value
            let error = #expect(throws: ClusterFrame.Malformed.self, "\(name)") { try ClusterProtocol.Hello(header: { headers[$0] }) }
            #expect(error?.description.contains(named) == true, "\(error?.description ?? "")")
        }
        // Another protocol version: read only as far as the registry shows it.
        var other = good
        other["gatehouse-cluster-protocol"] = "9"
        other["gatehouse-config-version"] = "whatever version 9 means"
        #expect(try ClusterProtocol.Hello(header: { other[$0] }).configVersion == nil)
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

    @Test func extremeVersionsNeverTrapTheListing() {
        let registry = DataPlaneRegistry()
        registry.connected(Self.hello("a"))
        registry.record(.init(nodeID: "a", kind: .applied, version: Int.min, hash: "h"))
        #expect(registry.json(currentVersion: Int.max).arrayValue?.first?["behind"] == 0)
        registry.record(.init(nodeID: "a", kind: .applied, version: Int.max, hash: "h"))
        #expect(registry.json(currentVersion: Int.min).arrayValue?.first?["behind"] == 0)
    }

    @Test func aDataPlaneServingAnotherEpochIsBehindWhateverItsVersion() {
        let registry = DataPlaneRegistry()
        registry.connected(Self.hello("a"))
        registry.record(.init(nodeID: "a", kind: .applied, version: 9, hash: "h9", epoch: "old"))
        #expect(registry.json(currentVersion: 5, currentEpoch: "new").arrayValue?.first?["status"] == "behind")
        registry.record(.init(nodeID: "a", kind: .rejected, version: 5, hash: "h5", epoch: "new", reason: "cannot enforce"))
        #expect(registry.json(currentVersion: 5, currentEpoch: "new").arrayValue?.first?["status"] == "rejected")
        registry.record(.init(nodeID: "a", kind: .applied, version: 5, hash: "h5", epoch: "new"))
        #expect(registry.json(currentVersion: 5, currentEpoch: "new").arrayValue?.first?["status"] == "in_sync")
        #expect(registry.json(currentVersion: 5, currentEpoch: "new").arrayValue?.first?["config_epoch"] == "new")
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
        let signer = ClusterFrameTests.signer
        #expect(try cache.load(signer: signer) == nil)
        let snapshot = try ClusterFrameTests.snapshot(version: 4)
        try cache.store(ClusterFrameTests.signed(snapshot))
        let loaded = try #require(try cache.load(signer: signer))
        #expect(loaded.snapshot.version == 4 && loaded.snapshot.hash == snapshot.hash && loaded.epoch == ClusterFrameTests.epoch)
        #expect(!FileManager.default.fileExists(atPath: dir.file("cache/snapshot.json.tmp")))
        // Another cluster's token does not vouch for it.
        #expect(throws: SnapshotCache.Unusable.self) { try cache.load(signer: SnapshotSigner(token: "another-cluster-token-0123")) }

        let file = dir.file("cache/snapshot.json")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.contains("/r1"))
        try text.replacingOccurrences(of: "/r1", with: "/admin").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: SnapshotCache.Unusable.self) { try cache.load(signer: signer) }

        // A whole new document with its own correct hash: only the signature tells.
        var document = snapshot.document
        document.routes.removeLast()
        let forged = Snapshot(version: 5, document: document)
        let header: JSONValue = [
            "epoch": .string(ClusterFrameTests.epoch), "version": 5, "hash": .string(forged.hash),
            "signature": .string(ClusterFrameTests.signed(snapshot).signature),
        ]
        try Data(header.canonicalBytes + [0x0A] + forged.canonicalJSON).write(to: URL(fileURLWithPath: file))
        let error = #expect(throws: SnapshotCache.Unusable.self) { try cache.load(signer: signer) }
        #expect(error?.description.contains("no valid signature") == true)

        try "{not json".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: SnapshotCache.Unusable.self) { try cache.load(signer: signer) }
        let unsigned: JSONValue = ["version": 4, "hash": .string(snapshot.hash)]
        try Data(unsigned.canonicalBytes + [0x0A] + snapshot.canonicalJSON).write(to: URL(fileURLWithPath: file))
        #expect(throws: SnapshotCache.Unusable.self) { try cache.load(signer: signer) }
    }

    @Test func theNodeIDIsKeptAcrossRestarts() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let first = try SnapshotCache(directory: dir.path).nodeID()
        #expect(try SnapshotCache(directory: dir.path).nodeID() == first)
        #expect(UUID(uuidString: first) != nil)
    }
}
