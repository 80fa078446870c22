import Foundation
import GRDB
import GatehouseModel
import GatehouseTestSupport
import Testing

@testable import GatehouseStore

@Suite struct ConfigStoreTests {
    static func upstream(_ name: String, id: String = UUID().uuidString.lowercased()) throws -> Upstream {
        try Upstream.read(["name": .string(name), "targets": [["target": "127.0.0.1:9000"]]], id: id)
    }

    static func route(_ name: String, upstream: String, path: String) throws -> Route {
        try Route.read(["name": .string(name), "upstream": .string(upstream), "paths": [.string(path)]], id: UUID().uuidString.lowercased())
    }

    @Test func everyWriteIsOneDurableVersion() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("g.db")
        var hashes: [String] = []
        do {
            let store = try ConfigStore(path: path)
            #expect(store.current.snapshot.version == 0)
            let first = try store.write { $0.upstreams.append(try Self.upstream("api")) }.snapshot
            let second = try store.write { $0.routes.append(try Self.route("r", upstream: "api", path: "/r")) }.snapshot
            #expect(first.version == 1 && second.version == 2)
            hashes = [first.hash, second.hash]
        }
        let reopened = try ConfigStore(path: path)
        #expect(reopened.current.snapshot.version == 2)
        #expect(reopened.current.snapshot.hash == hashes[1])
        #expect(reopened.current.snapshot.document.routes.map(\.name) == ["r"])
        #expect(try reopened.versions(limit: 10, before: nil).map(\.summary) == ["create route r", "create upstream api"])
        #expect(try reopened.snapshot(version: 1)?.hash == hashes[0])
        #expect(try reopened.snapshot(version: 3) == nil)
    }

    @Test func invalidChangeWritesNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ConfigStore(path: dir.file("g.db"))
        try store.write { $0.upstreams.append(try Self.upstream("api")) }
        #expect(throws: ConfigError.self) {
            try store.write { $0.routes.append(try Self.route("r", upstream: "nope", path: "/r")) }
        }
        #expect(store.current.snapshot.version == 1)
        #expect(try store.versions(limit: 10, before: nil).count == 1)
        let rows = try store.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM routes") }
        #expect(rows == 0)
    }

    @Test func ifMatchMustNameTheCurrentVersion() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ConfigStore(path: dir.file("g.db"))
        try store.write { $0.upstreams.append(try Self.upstream("a")) }
        #expect(throws: ConfigError(code: .preconditionFailed, message: "If-Match names version 0, but the current version is 1")) {
            try store.write(ifMatch: 0) { $0.upstreams.append(try Self.upstream("b")) }
        }
        try store.write(ifMatch: 1) { $0.upstreams.append(try Self.upstream("b")) }
        #expect(store.current.snapshot.version == 2)
    }

    @Test func databaseIsWALWithFullSync() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ConfigStore(path: dir.file("g.db"))
        let (mode, sync, keys) = try store.pool.write { db in
            (
                try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA synchronous"),
                try Int.fetchOne(db, sql: "PRAGMA foreign_keys")
            )
        }
        #expect(mode == "wal")
        #expect(sync == 2)
        #expect(keys == 1)
    }

    @Test func tablesRefuseDanglingReferencesAndDuplicateNames() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ConfigStore(path: dir.file("g.db"))
        try store.write { document in
            document.upstreams.append(try Self.upstream("api", id: uuid(1)))
            document.routes.append(try Self.route("r", upstream: "api", path: "/r"))
        }
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in
                try db.execute(
                    sql: "INSERT INTO routes (id, name, upstream_id, body, created_at, updated_at) VALUES ('r1', 'r-new', 'missing', '{}', 0, 0)")
            }
        }
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO upstreams (id, name, body, created_at, updated_at) VALUES ('00000000-0000-4000-8000-000000000002', 'api', '{}', 0, 0)"
                )
            }
        }
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in try db.execute(sql: "DELETE FROM upstreams WHERE id = '00000000-0000-4000-8000-000000000001'") }
        }
    }

    @Test func newerSchemaIsRefusedWithAClearMessage() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("g.db")
        do {
            let store = try ConfigStore(path: path)
            try store.pool.write { db in
                try db.execute(sql: "INSERT INTO schema_migrations (version, file, applied_at) VALUES (999, '0999_future.sql', 0)")
            }
        }
        do {
            _ = try ConfigStore(path: path)
            Issue.record("opened a database from the future")
        } catch let error as StoreError {
            #expect(error.description.contains("schema version 999"))
            #expect(error.description.contains("Upgrade gatehouse"))
        }
    }

    @Test func migrationsAreRecordedOnce() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("g.db")
        _ = try ConfigStore(path: path)
        let store = try ConfigStore(path: path)
        let files = try store.pool.read { try String.fetchAll($0, sql: "SELECT file FROM schema_migrations ORDER BY version") }
        #expect(files == embeddedMigrations.map(\.file))
        #expect(files.first == "0001_initial.sql")
    }

    @Test func namesCanSwapInOneChange() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ConfigStore(path: dir.file("g.db"))
        try store.write { document in
            document.upstreams = [try Self.upstream("a", id: uuid(3)), try Self.upstream("b", id: uuid(4))]
        }
        try store.write { document in
            document.upstreams[0].header.name = "b"
            document.upstreams[1].header.name = "a"
        }
        let names = try store.pool.read { try String.fetchAll($0, sql: "SELECT id || '=' || name FROM upstreams ORDER BY id") }
        #expect(names == ["\(uuid(3))=b", "\(uuid(4))=a"])
    }

    @Test func updatingAConsumerKeepsItsCredentials() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ConfigStore(path: dir.file("g.db"))
        let (credential, _) = try Credential.create(["type": "key-auth", "key": "a-long-enough-key-123"], id: uuid(6), randomKey: { "" })
        try store.write { document in
            var consumer = try Consumer.read(["name": "web"], id: uuid(5))
            consumer.credentials = [credential]
            document.consumers.append(consumer)
        }
        try store.write { document in document.consumers[0].groups = ["gold"] }
        let count = try store.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM credentials") }
        #expect(count == 1)
    }

    @Test func timestampsComeFromTheInjectedClock() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let now = NowBox(100)
        let store = try ConfigStore(path: dir.file("g.db"), clock: { now.value })
        try store.write { $0.upstreams.append(try Self.upstream("api", id: uuid(1))) }
        now.value = 200
        try store.write { $0.upstreams[0].retries = 2 }
        #expect(store.current.times[uuid(1)] == EntityTimes(createdAt: 100, updatedAt: 200))
    }
}

func uuid(_ n: Int) -> String { "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - String(n).count) + String(n) }

final class NowBox: @unchecked Sendable {
    var value: Int
    init(_ value: Int) { self.value = value }
}
