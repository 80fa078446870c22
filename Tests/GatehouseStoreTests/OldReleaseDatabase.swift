import Foundation
import GRDB
import Testing
import GatehouseModel

@testable import GatehouseStore

/// A database as the release before the delta history wrote it: schema 1 only (every version's
/// whole canonical document in `config_versions.document`), WAL, the entity rows written by the
/// same row persistence, one `INSERT` per version as that release's `ConfigStore.write` made.
enum OldReleaseDatabase {
    static func write(at path: String, versions: Int, seed: UInt64 = 21) throws -> HistoryTests.Committed {
        let schema1 = SchemaMigrator(embedded: embeddedMigrations.filter { $0.file == "0001_initial.sql" }, steps: [:])
        #expect(schema1.latestVersion == 1)
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        let pool = try DatabasePool(path: path, configuration: configuration)
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try schema1.migrate(pool)
        var committed = HistoryTests.Committed()
        var random = SeededRandom(seed: seed)
        var document = ConfigDocument()
        var times: [String: EntityTimes] = [:]
        for version in 1...versions {
            var next = document
            try HistoryTests.change(&next, step: version, random: &random)
            next.sort()
            try next.validate()
            let snapshot = Snapshot(version: version, document: next)
            let changes = ConfigDiff(from: document, to: next)
            times = try pool.write { db in
                let times = try ConfigStore.persist(db, from: document, to: next, times: times, now: 1_700_000_000 + version)
                try db.execute(
                    sql: "INSERT INTO config_versions (version, hash, summary, changes, created_at, document) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [
                        version, snapshot.hash, changes.summary, changes.json().canonicalString, 1_700_000_000 + version, Data(snapshot.canonicalJSON),
                    ]
                )
                return times
            }
            committed.record(snapshot)
            document = next
        }
        try pool.close()
        return committed
    }

    /// The database's bytes on disk: the file and, while open, its WAL.
    static func size(of path: String) throws -> Int {
        let manager = FileManager.default
        return try [path, path + "-wal"].filter { manager.fileExists(atPath: $0) }.reduce(0) {
            $0 + (try manager.attributesOfItem(atPath: $1)[.size] as! Int)
        }
    }
}
