import GRDB

/// Applies `Schema/migrations/NNNN_name.sql` in order, each in its own transaction, and records
/// them in `schema_migrations`. A database already migrated past what this binary knows is
/// refused, so an older Gatehouse never writes to a newer schema. A migration may have a step in
/// Swift (`steps`), run after its SQL in the same transaction, for what SQL cannot do.
struct SchemaMigrator {
    struct Migration {
        let version: Int
        let file: String
        let sql: String
    }

    /// The migration that stores the history as deltas (`0003_history_deltas.sql`).
    static let historyDeltas = 3

    let migrations: [Migration]
    let steps: [Int: (Database) throws -> Void]

    init(
        embedded: [(file: String, sql: String)] = embeddedMigrations,
        steps: [Int: (Database) throws -> Void] = [historyDeltas: ConfigStore.encodeHistory]
    ) {
        self.steps = steps
        migrations = embedded.compactMap { entry in
            guard let version = Int(entry.file.prefix { $0.isNumber }) else { return nil }
            return Migration(version: version, file: entry.file, sql: entry.sql)
        }.sorted { $0.version < $1.version }
    }

    var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Applies what the database lacks; returns the versions applied.
    @discardableResult
    func migrate(_ writer: some DatabaseWriter) throws -> [Int] {
        try writer.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version INTEGER PRIMARY KEY, file TEXT NOT NULL, applied_at INTEGER NOT NULL)
                    """)
        }
        let applied = try writer.read { db in try Int.fetchOne(db, sql: "SELECT MAX(version) FROM schema_migrations") } ?? 0
        if applied > latestVersion {
            throw StoreError.schemaTooNew(found: applied, supported: latestVersion)
        }
        var done: [Int] = []
        for migration in migrations where migration.version > applied {
            try writer.write { db in
                try db.execute(sql: migration.sql)
                try steps[migration.version]?(db)
                try db.execute(
                    sql: "INSERT INTO schema_migrations (version, file, applied_at) VALUES (?, ?, strftime('%s','now'))",
                    arguments: [migration.version, migration.file]
                )
            }
            done.append(migration.version)
        }
        return done
    }
}
