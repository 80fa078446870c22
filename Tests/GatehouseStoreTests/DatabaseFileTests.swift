import Foundation
import GRDB
import GatehouseModel
import GatehouseTestSupport
import Testing

@testable import GatehouseStore

/// A database file that is damaged, truncated, emptied or taken away is refused with a clear
/// error, never taken for an empty config, and never acknowledged a write it could not keep.
@Suite struct DatabaseFileTests {
    /// A database with some history, closed (its WAL folded into the file).
    static func database(at path: String, versions: Int = 30) throws {
        let store = try ConfigStore(path: path)
        try store.write { document in
            document.upstreams.append(try ConfigStoreTests.upstream("api"))
            for index in 0..<40 { document.routes.append(try ConfigStoreTests.route("r\(index)", upstream: "api", path: "/p\(index)")) }
        }
        // Each change touches every route, so each version is a checkpoint: pages of old history
        // fill the middle of the file, which opening the database does not read.
        for step in 1..<versions {
            try store.write { document in
                for index in document.routes.indices { document.routes[index].header.tags = ["step-\(step)"] }
            }
        }
    }

    static func expectDamaged(_ path: String, saying text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try ConfigStore(path: path)
            Issue.record("opened a database that should have been refused", sourceLocation: sourceLocation)
        } catch let error as StoreError {
            #expect(error.code == .damaged, sourceLocation: sourceLocation)
            #expect(error.description.contains(text), "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("refused with \(error), not a StoreError", sourceLocation: sourceLocation)
        }
    }

    @Test func garbageOverPagesInTheMiddleIsRefusedAtOpen() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("g.db")
        try Self.database(at: path)
        // Pages of an old checkpoint's document, in the middle of the file.
        let pages = try DatabaseQueue(path: path).read { db in
            try Int.fetchAll(
                db, sql: "SELECT pageno FROM dbstat WHERE name = 'version_documents' AND pagetype = 'overflow' ORDER BY pageno")
        }
        try #require(pages.count > 20)
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        var random = SeededRandom(seed: 42)
        for page in pages[pages.count / 3..<pages.count / 3 + 4] {
            try handle.seek(toOffset: UInt64((page - 1) * 4096))
            try handle.write(contentsOf: Data((0..<4096).map { _ in UInt8(random.next(below: 256)) }))
        }
        try handle.close()
        Self.expectDamaged(path, saying: "integrity check")
    }

    @Test func aTruncatedFileIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("g.db")
        try Self.database(at: path)
        let size = try OldReleaseDatabase.size(of: path)
        #expect(truncate(path, off_t(size / 2)) == 0)
        Self.expectDamaged(path, saying: path)
    }

    @Test func anExistingEmptyFileIsRefusedAndLeftAsItWas() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("g.db")
        try Self.database(at: path, versions: 2)
        #expect(truncate(path, 0) == 0)
        Self.expectDamaged(path, saying: "exists but is empty (0 bytes)")
        #expect(try OldReleaseDatabase.size(of: path) == 0)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func aMissingFileIsCreatedWhole() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("new.db")
        do {
            let store = try ConfigStore(path: path)
            #expect(store.current.snapshot.version == 0)
        }
        // Created with its schema, and nothing of the making left beside it.
        #expect(try OldReleaseDatabase.size(of: path) > 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("creating") }.isEmpty)
        let store = try ConfigStore(path: path)
        #expect(store.current.snapshot.version == 0)
        let vacuum = try store.pool.read { try Int.fetchOne($0, sql: "PRAGMA auto_vacuum") }
        #expect(vacuum == 2)
    }

    @Test func aFileThatIsNotADatabaseIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("g.db")
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: path))
        Self.expectDamaged(path, saying: path)
    }

    @Test func aWriteAfterTheDirectoryWasRemovedIsRefusedNotAcknowledged() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let directory = dir.file("data")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try ConfigStore(path: directory + "/g.db")
        try store.write { $0.upstreams.append(try ConfigStoreTests.upstream("api")) }
        try FileManager.default.removeItem(atPath: directory)
        #expect {
            try store.write { $0.upstreams.append(try ConfigStoreTests.upstream("lost")) }
        } throws: { error in
            guard let error = error as? StoreError else { return false }
            return error.code == .storageUnavailable && error.description.contains("is gone")
        }
        #expect(store.current.snapshot.version == 1)
    }

    @Test func aWriteAfterTheFileWasReplacedIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("g.db")
        let store = try ConfigStore(path: path)
        try store.write { $0.upstreams.append(try ConfigStoreTests.upstream("api")) }
        // A restore over the running database: another file at the path now.
        try FileManager.default.copyItem(atPath: path, toPath: path + ".copy")
        #expect(rename(path + ".copy", path) == 0)
        #expect {
            try store.write { $0.upstreams.append(try ConfigStoreTests.upstream("lost")) }
        } throws: { error in
            (error as? StoreError)?.code == .storageUnavailable && "\(error)".contains("was replaced")
        }
        #expect(store.current.snapshot.version == 1)
    }
}
