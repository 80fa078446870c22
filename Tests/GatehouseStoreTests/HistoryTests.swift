import Foundation
import GRDB
import GatehouseModel
import GatehouseTestSupport
import Testing

@testable import GatehouseStore

/// The history is stored as deltas, and every version reads back exactly as it was committed:
/// the same canonical bytes, so the same hash, through checkpoints, reopening, migration from
/// the schema that kept whole documents, and retention.
@Suite struct HistoryTests {
    /// What was committed, to compare with what the history gives back.
    struct Committed {
        var bytes: [Int: [UInt8]] = [:]
        var hashes: [Int: String] = [:]

        mutating func record(_ snapshot: Snapshot) {
            bytes[snapshot.version] = snapshot.canonicalJSON
            hashes[snapshot.version] = snapshot.hash
        }
    }

    /// A deterministic walk over the kinds of change: creates, updates, deletes, renames that
    /// move an entity in the canonical order, consumers with credentials, policies, and changes
    /// to every route at once.
    static func changes(_ store: ConfigStore, count: Int, seed: UInt64, into committed: inout Committed) throws {
        var random = SeededRandom(seed: seed)
        for step in 0..<count {
            let snapshot = try store.write { document in try Self.change(&document, step: step, random: &random) }.snapshot
            committed.record(snapshot)
        }
    }

    static func change(_ document: inout ConfigDocument, step: Int, random: inout SeededRandom) throws {
        if document.upstreams.isEmpty {
            document.upstreams.append(try ConfigStoreTests.upstream("api"))
            document.upstreams.append(try ConfigStoreTests.upstream("backup"))
        }
        let unique = "\(random.next(below: 1_000_000))-\(step)"
        switch document.routes.count < 8 ? 0 : random.next(below: 10) {
        case 0, 1, 2:
            var route = try ConfigStoreTests.route("r\(unique)", upstream: "api", path: "/p\(unique)")
            route.hosts = ["h\(step).example.com"]
            route.header.tags = ["t\\\"quoted\"", "ünïcode-\(step)"]
            document.routes.append(route)
        case 3, 4:
            let index = random.next(below: document.routes.count)
            document.routes[index].header.tags = ["changed-\(step)"]
            document.routes[index].methods = ["GET", "POST"]
        case 5:
            document.routes.remove(at: random.next(below: document.routes.count))
        case 6:
            // A rename moves the route in the canonical order.
            let index = random.next(below: document.routes.count)
            document.routes[index].header.name = (step % 2 == 0 ? "a" : "z") + "-renamed-\(unique)"
        case 7:
            var consumer = try Consumer.read(["name": .string("c\(unique)")], id: UUID().uuidString.lowercased())
            let (credential, _) = try Credential.create(
                ["type": "key-auth", "key": .string("a-long-enough-key-\(unique)")], id: UUID().uuidString.lowercased(), randomKey: { "" })
            consumer.credentials = [credential]
            document.consumers.append(consumer)
        case 8:
            for index in document.routes.indices { document.routes[index].stripPath.toggle() }
        default:
            let index = random.next(below: document.routes.count)
            document.routes[index].upstream = random.next(below: 2) == 0 ? "api" : "backup"
        }
    }

    static func expectExact(_ store: ConfigStore, _ committed: Committed, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for (version, bytes) in committed.bytes.sorted(by: { $0.key < $1.key }) {
            let document = try #require(try store.document(version: version), sourceLocation: sourceLocation)
            #expect(document.canonicalJSON == bytes, "version \(version)", sourceLocation: sourceLocation)
            #expect(document.hash == committed.hashes[version], "version \(version)", sourceLocation: sourceLocation)
        }
    }

    @Test func everyVersionReadsBackExactlyAfterManyChangesAndReopening() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("g.db")
        var committed = Committed()
        do {
            let store = try ConfigStore(path: path)
            try Self.changes(store, count: 400, seed: 7, into: &committed)
            try Self.expectExact(store, committed)
            // The history holds deltas, with checkpoints between them.
            let (deltas, checkpoints) = try store.pool.read { db in
                (
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM version_documents WHERE base IS NOT NULL")!,
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM version_documents WHERE base IS NULL")!
                )
            }
            #expect(deltas > 300)
            #expect(checkpoints > 1)
        }
        let reopened = try ConfigStore(path: path)
        try Self.expectExact(reopened, committed)
        #expect(reopened.current.snapshot.hash == committed.hashes[400])
        // The parsed form is the committed document too.
        for version in [1, 17, 200, 399] {
            let snapshot = try #require(try reopened.snapshot(version: version))
            #expect(snapshot.canonicalJSON == committed.bytes[version])
        }
        try Self.changes(reopened, count: 20, seed: 8, into: &committed)
        try Self.expectExact(reopened, committed)
    }

    @Test func aCheckpointIsWrittenWhenTheChainIsLongOrHasCostADocument() throws {
        let old = try HistoryDeltaTests.document(routes: 100)
        let new = try HistoryDeltaTests.document(routes: 100) { $0 == 50 ? "changed" : "t" }
        var chain = ConfigStore.HistoryChain(deltas: ConfigStore.checkpointEvery - 2, bytes: 0)
        let last = chain.entry(for: new, previous: old).isDelta
        let beyond = chain.entry(for: new, previous: old).isDelta
        #expect(last && !beyond)
        #expect(chain.deltas == 0 && chain.bytes == 0)
        var costly = ConfigStore.HistoryChain(deltas: 1, bytes: new.count - 10)
        let overBudget = costly.entry(for: new, previous: old).isDelta
        var fresh = ConfigStore.HistoryChain()
        let first = fresh.entry(for: new, previous: nil).isDelta
        // A change to most of the document is stored whole.
        let rewritten = try HistoryDeltaTests.document(routes: 100) { "r\($0)" }
        let large = fresh.entry(for: rewritten, previous: old).isDelta
        #expect(!overBudget && !first && !large)
    }

    @Test func aDamagedDeltaIsReportedNotServed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ConfigStore(path: dir.file("g.db"))
        var committed = Committed()
        try Self.changes(store, count: 12, seed: 3, into: &committed)
        let version = try #require(
            try store.pool.read { try Int.fetchOne($0, sql: "SELECT MAX(version) FROM version_documents WHERE base IS NOT NULL AND version < 12") })
        try store.pool.write { db in
            // Same length, one byte of added text changed: only the hash can tell.
            var body = try [UInt8](Data.fetchOne(db, sql: "SELECT body FROM version_documents WHERE version = ?", arguments: [version])!)
            body[body.count - 2] ^= 0x01
            try db.execute(sql: "UPDATE version_documents SET body = ? WHERE version = ?", arguments: [Data(body), version])
        }
        #expect {
            _ = try store.document(version: version)
        } throws: { error in
            (error as? StoreError)?.code == .damaged && "\(error)".contains("does not match its hash")
        }
    }

    @Test func aDatabaseOfThePreviousReleaseMigratesWithItsWholeHistoryExact() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("old.db")
        let committed = try OldReleaseDatabase.write(at: path, versions: 60)
        let sizeBefore = try OldReleaseDatabase.size(of: path)
        do {
            let store = try ConfigStore(path: path)
            try Self.expectExact(store, committed)
            #expect(store.current.snapshot.version == 60)
            #expect(store.current.snapshot.hash == committed.hashes[60])
            #expect(try store.versions(limit: 100, before: nil).count == 60)
            let (deltas, columns) = try store.pool.read { db in
                (
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM version_documents WHERE base IS NOT NULL")!,
                    try db.columns(in: "config_versions").map(\.name)
                )
            }
            #expect(deltas > 40)
            #expect(!columns.contains("document"))
            // Writes go on from the migrated history.
            var more = committed
            try Self.changes(store, count: 5, seed: 11, into: &more)
            try Self.expectExact(store, more)
        }
        let reopened = try ConfigStore(path: path)
        try Self.expectExact(reopened, committed)
        #expect(try OldReleaseDatabase.size(of: path) < sizeBefore)
    }

    @Test func aStandbyReadsTheNewestSnapshotOfEitherSchema() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let old = dir.file("old.db")
        let committed = try OldReleaseDatabase.write(at: old, versions: 5)
        #expect(try ConfigStore.latestSnapshot(path: old)?.hash == committed.hashes[5])
        _ = try ConfigStore(path: old)
        #expect(try ConfigStore.latestSnapshot(path: old)?.hash == committed.hashes[5])
    }

    @Test func retentionKeepsTheNewestDocumentsAndSaysTheOlderWerePruned() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("g.db")
        var committed = Committed()
        do {
            let store = try ConfigStore(path: path, historyKeep: 5)
            try Self.changes(store, count: 40, seed: 5, into: &committed)
            for version in 1...35 {
                #expect(throws: StoreError.self) { try store.document(version: version) }
                #expect(throws: StoreError.self) { try store.snapshot(version: version) }
            }
            do {
                _ = try store.document(version: 3)
            } catch let error as StoreError {
                #expect(error.code == .pruned)
                #expect(error.description.contains("the oldest version kept is 36"))
            }
            var kept = Committed()
            for version in 36...40 {
                kept.bytes[version] = committed.bytes[version]
                kept.hashes[version] = committed.hashes[version]
            }
            try Self.expectExact(store, kept)
            let versions = try store.versions(limit: 100, before: nil)
            #expect(versions.count == 40)
            #expect(versions.filter(\.pruned).map(\.version) == Array((1...35).reversed()))
            // Rows stay only as the base of kept versions: no more than twice what is kept.
            let rows = try store.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM version_documents")! }
            #expect(rows <= 11)
            committed = kept
        }
        // Opening with a smaller setting prunes at once; without one, nothing comes back.
        let store = try ConfigStore(path: path, historyKeep: 2)
        #expect(throws: StoreError.self) { try store.document(version: 38) }
        #expect(try store.document(version: 39)?.hash == committed.hashes[39])
        let all = try ConfigStore(path: path)
        #expect(throws: StoreError.self) { try all.document(version: 38) }
        #expect(try all.document(version: 40)?.canonicalJSON == committed.bytes[40])
    }

    @Test func retentionOfOneKeepsOnlyTheCurrentVersion() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ConfigStore(path: dir.file("g.db"), historyKeep: 1)
        var committed = Committed()
        try Self.changes(store, count: 15, seed: 9, into: &committed)
        #expect(try store.document(version: 15)?.hash == committed.hashes[15])
        #expect(throws: StoreError.self) { try store.document(version: 14) }
        #expect(try store.snapshot(version: 0)?.document == ConfigDocument())
        let rows = try store.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM version_documents")! }
        #expect(rows <= 3)
    }
}

/// A small deterministic generator (SplitMix64), so a failing walk can be replayed.
struct SeededRandom {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next(below bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}
