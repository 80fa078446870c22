import GRDB

/// Applies `Schema/migrations/NNNN_name.sql` in order, each in its own transaction, and records
/// them in `schema_migrations`. A database already migrated past what this binary knows is
/// refused, so an older Gatehouse never writes to a newer schema.
struct SchemaMigrator {
    struct Migration {
        let version: Int
        let file: String
        let sql: String
    }

    let migrations: [Migration]

    init(embedded: [(file: String, sql: String)] = embeddedMigrations) {
        migrations = embedded.compactMap { entry in
            guard let version = Int(entry.file.prefix { $0.isNumber }) else { return nil }
            return Migration(version: version, file: entry.file, sql: entry.sql)
        }.sorted { $0.version < $1.version }
    }

    var latestVersion: Int { migrations.last?.version ?? 0 }

    func migrate(_ writer: some DatabaseWriter) throws {
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
        for migration in migrations where migration.version > applied {
            try writer.write { db in
                try db.execute(sql: migration.sql)
                try db.execute(
                    sql: "INSERT INTO schema_migrations (version, file, applied_at) VALUES (?, ?, strftime('%s','now'))",
                    arguments: [migration.version, migration.file]
                )
            }
        }
    }
}
