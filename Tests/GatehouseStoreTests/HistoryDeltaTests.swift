import Foundation
import GatehouseModel
import Testing

@testable import GatehouseStore

@Suite struct HistoryDeltaTests {
    static func document(routes: Int, tag: (Int) -> String = { _ in "t" }) throws -> [UInt8] {
        var document = ConfigDocument()
        document.upstreams.append(try ConfigStoreTests.upstream("api", id: uuid(1)))
        for index in 0..<routes {
            var route = try Route.read(["name": .string("r\(index)"), "upstream": "api", "paths": [.string("/p\(index)")]], id: uuid(100 + index))
            route.header.tags = [tag(index)]
            document.routes.append(route)
        }
        return Snapshot(version: 1, document: document).canonicalJSON
    }

    @Test func oneChangedEntityCostsAboutItsOwnSize() throws {
        let old = try Self.document(routes: 500)
        var document = try ConfigDocument.read(try JSONValue.parse(old))
        document.routes[250].header.tags = ["changed"]
        let new = Snapshot(version: 2, document: document).canonicalJSON
        let delta = HistoryDelta(from: old, to: new)
        #expect(try delta.apply(to: old) == new)
        #expect(delta.encoded.count < 400)
    }

    @Test func aRenameThatMovesAnEntityCostsOnlyThatEntity() throws {
        let old = try Self.document(routes: 500)
        var document = try ConfigDocument.read(try JSONValue.parse(old))
        document.routes[3].header.name = "zzz-moved"
        document.sort()
        let new = Snapshot(version: 2, document: document).canonicalJSON
        let delta = HistoryDelta(from: old, to: new)
        #expect(try delta.apply(to: old) == new)
        #expect(delta.encoded.count < 600)
    }

    @Test func anyTwoByteStringsRoundTrip() throws {
        var random = SeededRandom(seed: 1)
        let alphabet = Array("{}[],:\"\\ab".utf8)
        for _ in 0..<300 {
            let old = (0..<random.next(below: 200)).map { _ in alphabet[random.next(below: alphabet.count)] }
            var new = old
            for _ in 0..<random.next(below: 6) {
                let at = random.next(below: new.count + 1)
                if random.next(below: 2) == 0, at < new.count {
                    new.remove(at: at)
                } else {
                    new.insert(alphabet[random.next(below: alphabet.count)], at: at)
                }
            }
            #expect(try HistoryDelta(from: old, to: new).apply(to: old) == new)
            #expect(try HistoryDelta(from: [], to: new).apply(to: []) == new)
            #expect(try HistoryDelta(from: old, to: []).apply(to: old) == [])
        }
    }

    @Test func aChainOfDeltasRebuildsEachVersion() throws {
        var versions = [try Self.document(routes: 50)]
        for step in 0..<60 {
            versions.append(try Self.document(routes: 50 + step % 7) { $0 == step % 50 ? "s\(step)" : "t" })
        }
        var chain = DeltaChain(checkpoint: versions[0])
        for index in 1..<versions.count {
            try chain.apply(HistoryDelta(from: versions[index - 1], to: versions[index]))
            #expect(chain.bytes() == versions[index])
        }
    }

    @Test func aDeltaThatCopiesBeyondItsBaseIsDamaged() throws {
        let copyTen = HistoryDelta(encoded: [HistoryDelta.format, 0, 0, 10])
        #expect(try copyTen.apply(to: Array("0123456789".utf8)) == Array("0123456789".utf8))
        #expect(throws: StoreError.self) { try copyTen.apply(to: Array("abc".utf8)) }
        #expect(throws: StoreError.self) { try HistoryDelta(encoded: [1, 1, 200]).apply(to: []) }
        #expect(throws: StoreError.self) { try HistoryDelta(encoded: [9]).apply(to: []) }
    }

    @Test func prettyJSONIsWhatTheParsedDocumentPrints() throws {
        var document = ConfigDocument()
        document.upstreams.append(try ConfigStoreTests.upstream("api", id: uuid(1)))
        var route = try ConfigStoreTests.route("r", upstream: "api", path: "/a/{id}")
        route.header.tags = ["a,b\\\"c]{", "\u{1}x", "ünï"]
        route.headers = ["x-a": ["1", "[2]"]]
        document.routes.append(route)
        document.consumers.append(try Consumer.read(["name": "web"], id: uuid(2)))
        for document in [document, ConfigDocument()] {
            let snapshot = Snapshot(version: 1, document: document)
            let stored = StoredDocument(version: 1, hash: snapshot.hash, canonicalJSON: snapshot.canonicalJSON)
            #expect(stored.prettyJSON == document.json().prettyBytes)
        }
    }
}
