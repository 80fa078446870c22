import Foundation
import GatehouseModel
import Testing

@testable import GatehouseCluster

/// Deltas made on the control plane's side and applied on the data plane's: the patched document
/// must be, byte for byte and entity for entity, what parsing the newer snapshot gives.
@Suite struct SnapshotDeltaTests {
    static let signer = ClusterFrameTests.signer
    static let epoch = ClusterFrameTests.epoch

    static func id(_ n: Int) -> String { "00000000-0000-4000-8000-" + String(format: "%012d", n) }

    static func route(_ name: String, id: Int, path: String, upstream: String = "u", hosts: [String] = []) throws -> Route {
        try Route.read(
            ["name": .string(name), "paths": [.string(path)], "upstream": .string(upstream), "hosts": .array(hosts.map(JSONValue.string))],
            id: Self.id(id))
    }

    /// A document with every kind of entity, strings holding brackets, quotes and escapes.
    static func document(routes: Int) throws -> ConfigDocument {
        var document = ConfigDocument()
        document.upstreams = [
            try Upstream.read(["name": "u", "targets": [["target": "127.0.0.1:9000"]]], id: id(900_000)),
            try Upstream.read(["name": "w", "targets": [["target": "127.0.0.1:9001"]], "tags": ["a]]", "[b", "q\"\\{"]], id: id(900_001)),
        ]
        document.routes = try (0..<routes).map { index in try route("r\(index)", id: index + 1, path: "/r\(index)") }
        document.consumers = [
            // The document form (credentials included) carries its id.
            try Consumer.read([
                "id": .string(id(800_000)), "name": "app",
                "credentials": [["id": .string(id(800_001)), "type": "key-auth", "key": "a-key-of-sixteen-or-more"]],
            ])
        ]
        document.policies = [
            try Policy.read(["name": "limit", "type": "rate-limit", "route": "r1", "config": ["limit": 10, "window": "1s"]], id: id(700_000))
        ]
        document.sort()
        return document
    }

    /// Patches `old` to `new` through the wire form and checks the result against `new` parsed whole.
    @discardableResult
    static func patch(_ base: PatchableDocument, to new: Snapshot) throws -> PatchableDocument {
        let old = try Snapshot(version: base.version, canonicalJSON: base.bytes, hash: base.hash)
        let delta = try SnapshotDelta(decoding: SnapshotDelta(from: old.document, to: new.document).encoded()[...])
        let patched = try base.applying(delta, version: new.version, hash: new.hash)
        let snapshot = try patched.snapshot()
        #expect(snapshot.canonicalJSON == new.canonicalJSON)
        // What parsing the newer snapshot's bytes whole gives, entity for entity.
        #expect(snapshot.document == (try Snapshot(version: new.version, canonicalJSON: new.canonicalJSON, hash: new.hash)).document)
        #expect(patched.layout == DocumentLayout(scanning: new.canonicalJSON))
        return patched
    }

    @Test func aHundredChangesPatchedInTurnGiveEachVersionByteForByte() throws {
        var document = try Self.document(routes: 50)
        var base = try PatchableDocument(Snapshot(version: 1, document: document))
        for step in 0..<100 {
            switch step % 7 {
            case 0: document.routes.append(try Self.route("n\(step)", id: 1000 + step, path: "/n/\(step)"))
            case 1: document.routes.removeAll { $0.name == "r\(step / 7)" }
            case 2: document.routes[step % document.routes.count].paths = ["/changed/\(step)"]
            case 3:
                document.upstreams[1] = try Upstream.read(
                    ["name": "w", "targets": [["target": .string("127.0.0.1:\(10_000 + step)")]]], id: Self.id(900_001))
            case 4: document.consumers[0].header.tags = ["step-\(step)"]
            case 5: document.policies[0].config = ["limit": .int(step), "window": "1s"]
            default:
                // Several kinds in one version, and the first and last entity of a list.
                document.routes.insert(try Self.route("a\(step)", id: 2000 + step, path: "/a/\(step)"), at: 0)
                document.routes.append(try Self.route("z\(step)", id: 3000 + step, path: "/z/\(step)"))
                document.upstreams.append(
                    try Upstream.read(["name": .string("x\(step)"), "targets": [["target": "127.0.0.1:1"]]], id: Self.id(4000 + step)))
            }
            document.sort()
            base = try Self.patch(base, to: Snapshot(version: step + 2, document: document))
        }
        #expect(base.version == 101)
    }

    @Test func emptyListsFillAndEmptyAgain() throws {
        let empty = Snapshot(version: 1, document: ConfigDocument())
        var document = ConfigDocument()
        document.upstreams = [try Upstream.read(["name": "u", "targets": [["target": "127.0.0.1:9000"]]], id: Self.id(1))]
        document.routes = [try Self.route("only", id: 2, path: "/")]
        let full = try Self.patch(PatchableDocument(empty), to: Snapshot(version: 2, document: document))
        try Self.patch(full, to: Snapshot(version: 3, document: ConfigDocument()))
    }

    @Test func deltasInARowComposeIntoOne() throws {
        let v1 = Snapshot(version: 1, document: try Self.document(routes: 5))
        var document = v1.document
        document.routes.append(try Self.route("temp", id: 500, path: "/temp"))
        document.sort()
        let v2 = Snapshot(version: 2, document: document)
        document.routes.removeAll { $0.name == "temp" || $0.name == "r0" }
        document.routes[0].paths = ["/moved"]
        let v3 = Snapshot(version: 3, document: document)
        let composed = SnapshotDelta(from: v1.document, to: v2.document).followed(by: SnapshotDelta(from: v2.document, to: v3.document))
        // `temp` was created and deleted: its deletion stays, and changes nothing in v1.
        #expect(composed.changes.map(\.name) == ["r0", "r1", "temp"])
        let patched = try PatchableDocument(v1).applying(composed, version: 3, hash: v3.hash)
        #expect(try patched.snapshot().canonicalJSON == v3.canonicalJSON)
    }

    @Test func aDeltaThatDoesNotMakeTheSignedDocumentIsRefused() throws {
        let v1 = Snapshot(version: 1, document: try Self.document(routes: 5))
        var document = v1.document
        document.routes[2].paths = ["/two"]
        let v2 = Snapshot(version: 2, document: document)
        let base = try PatchableDocument(v1)
        // The right change for another hash, and another change for the right hash.
        let delta = SnapshotDelta(from: v1.document, to: v2.document)
        #expect(throws: PatchableDocument.Refused.self) { try base.applying(delta, version: 2, hash: v1.hash).snapshot() }
        let other = SnapshotDelta(ordered: [.init(kind: .route, name: "r2", entity: try Self.route("r2", id: 3, path: "/evil").json().canonicalBytes)]
        )
        let refused = #expect(throws: PatchableDocument.Refused.self) { try base.applying(other, version: 2, hash: v2.hash).snapshot() }
        #expect(refused?.description.contains("does not match its hash") == true)
        // An entity that is not what it is named, or cannot be read.
        let misnamed = SnapshotDelta(ordered: [.init(kind: .route, name: "r2", entity: try Self.route("r9", id: 3, path: "/x").json().canonicalBytes)]
        )
        #expect(throws: PatchableDocument.Refused.self) { try base.applying(misnamed, version: 2, hash: v2.hash) }
        let unreadable = SnapshotDelta(ordered: [.init(kind: .route, name: "r2", entity: Array(#"{"name":"r2"}"#.utf8))])
        #expect(throws: PatchableDocument.Refused.self) { try base.applying(unreadable, version: 2, hash: v2.hash) }
    }

    @Test func theWireFormIsCheckedWhole() throws {
        let good = SnapshotDelta(ordered: [
            .init(kind: .upstream, name: "u", entity: nil), .init(kind: .route, name: "a", entity: Array("{}".utf8)),
            .init(kind: .route, name: "b", entity: nil),
        ])
        let bytes = good.encoded()
        #expect(try SnapshotDelta(decoding: bytes[...]) == good)
        let outOfOrder = SnapshotDelta(ordered: [.init(kind: .route, name: "b", entity: nil), .init(kind: .route, name: "a", entity: nil)]).encoded()
        let twice = SnapshotDelta(ordered: [.init(kind: .route, name: "a", entity: nil), .init(kind: .route, name: "a", entity: nil)]).encoded()
        let kindsBackwards = SnapshotDelta(ordered: [.init(kind: .route, name: "a", entity: nil), .init(kind: .upstream, name: "a", entity: nil)])
            .encoded()
        var unknownKind = bytes
        unknownKind[2] = 9
        let lies: [[UInt8]] = [
            outOfOrder, twice, kindsBackwards, unknownKind, Array(bytes.dropLast()), bytes + [0], [2] + bytes.dropFirst(),
            [1, 0xFF, 0xFF, 0xFF, 0x7F],
            [1, 1, 1, 0, 0],
        ]
        for lie in lies {
            #expect(throws: ClusterFrame.Malformed.self, "\(lie.prefix(16))") { try SnapshotDelta(decoding: lie[...]) }
        }
    }

    @Test func aDeltaFrameIsSignedOverItsBaseAndResult() throws {
        let v1 = Snapshot(version: 1, document: try Self.document(routes: 3))
        var document = v1.document
        document.routes[0].paths = ["/zero"]
        let v2 = Snapshot(version: 2, document: document)
        let delta = SnapshotDelta(from: v1.document, to: v2.document)
        let signed = SignedDelta(delta, from: (v1.version, v1.hash), to: v2, epoch: Self.epoch, signer: Self.signer)
        guard case .delta(let received) = try ClusterFrameTests.received(ClusterProtocol.deltaFrame(signed)).first else {
            Issue.record("not read as a delta")
            return
        }
        let patched = try PatchableDocument(v1).applying(received.delta, version: received.version, hash: received.hash)
        #expect(try received.signedSnapshot(of: patched).snapshot.canonicalJSON == v2.canonicalJSON)

        // Another token's, or the same signature over another base or another result: refused.
        let impostor = SignedDelta(
            delta, from: (v1.version, v1.hash), to: v2, epoch: Self.epoch, signer: SnapshotSigner(token: "another-token-0123456789"))
        #expect(throws: ClusterFrame.Malformed.self) { try ClusterFrameTests.received(ClusterProtocol.deltaFrame(impostor)) }
        let frame = ClusterProtocol.deltaFrame(signed)
        var decoder = ClusterFrame.Decoder()
        let message = try #require(try decoder.feed(frame).first)
        for (field, value) in [("base_version", JSONValue.int(0)), ("base_hash", .string(v2.hash)), ("version", .int(3)), ("hash", .string(v1.hash))]
        {
            var header = message.header.objectValue!
            header[field] = value
            let altered = ClusterFrame.Message(header: .object(header), body: message.body)
            #expect(throws: ClusterFrame.Malformed.self, "\(field)") { try ClusterProtocol.incoming(altered, signer: Self.signer) }
        }
        // A snapshot signature does not stand for a delta's.
        var header = message.header.objectValue!
        header["signature"] = header["snapshot_signature"]
        #expect(throws: ClusterFrame.Malformed.self) {
            try ClusterProtocol.incoming(.init(header: .object(header), body: message.body), signer: Self.signer)
        }
    }

    @Test func theLogComposesBackToABaseItHoldsAndStartsAgainWithANewEpoch() throws {
        let log = DeltaLog()
        var document = try Self.document(routes: 3)
        var snapshots = [Snapshot(version: 1, document: document)]
        log.record(.init(snapshot: snapshots[0], epoch: Self.epoch))
        for version in 2...5 {
            document.routes.append(try Self.route("v\(version)", id: 100 + version, path: "/v\(version)"))
            document.sort()
            snapshots.append(Snapshot(version: version, document: document))
            log.record(.init(snapshot: snapshots.last!, epoch: Self.epoch))
        }
        #expect(log.count == 4)
        let latest = snapshots.last!
        let delta = try #require(log.delta(from: (1, snapshots[0].hash), to: latest, epoch: Self.epoch))
        #expect(delta.changes.map(\.name) == ["v2", "v3", "v4", "v5"])
        #expect(try PatchableDocument(snapshots[0]).applying(delta, version: 5, hash: latest.hash).snapshot().hash == latest.hash)
        #expect(log.delta(from: (3, snapshots[2].hash), to: latest, epoch: Self.epoch)?.changes.count == 2)
        // A base it does not hold, a hash that is not that version's, another epoch: none.
        #expect(log.delta(from: (0, snapshots[0].hash), to: latest, epoch: Self.epoch) == nil)
        #expect(log.delta(from: (2, snapshots[0].hash), to: latest, epoch: Self.epoch) == nil)
        #expect(log.delta(from: (1, snapshots[0].hash), to: latest, epoch: "00000000-0000-4000-8000-000000000000") == nil)
        log.record(.init(snapshot: latest, epoch: "00000000-0000-4000-8000-000000000000"))
        #expect(log.count == 0)
    }

    @Test func theLayoutIsFoundPastStringsThatLookLikeStructure() throws {
        let snapshot = Snapshot(version: 1, document: try Self.document(routes: 2))
        let layout = try #require(DocumentLayout(scanning: snapshot.canonicalJSON))
        #expect(layout.lists.map(\.elements.count) == [2, 2, 1, 1])
        for (kind, list) in layout.lists.enumerated() {
            let bytes = Array(snapshot.canonicalJSON[list.contents])
            let elements = try #require(try JSONValue.parse(Array("[".utf8) + bytes + Array("]".utf8)).arrayValue)
            for (element, range) in zip(elements, list.elements) {
                #expect(Array(bytes[range]) == element.canonicalBytes, "kind \(kind)")
            }
        }
        #expect(DocumentLayout(scanning: Array(#"{"routes":[]}"#.utf8)) == nil)
    }
}
