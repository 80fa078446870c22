/// Failures of the database itself, as opposed to invalid config (`ConfigError`). `code` says
/// which kind, for the admin API's status and for scripts; `description` says what to do.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// Migrated by a newer Gatehouse.
        case schemaTooNew = "schema_too_new"
        /// The file cannot be opened, or what it holds fails its checks.
        case damaged = "damaged"
        /// The database's files cannot be used at their path: the file or its WAL is no longer
        /// the one this process opened (removed, replaced), so a write would not be durable
        /// there and none is made; or the writer lock cannot be opened.
        case storageUnavailable = "storage_unavailable"
        /// The version's document was dropped by the history retention.
        case pruned = "pruned"
    }

    public let code: Code
    public let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }

    static func schemaTooNew(found: Int, supported: Int) -> StoreError {
        StoreError(
            .schemaTooNew,
            "the database was written by a newer Gatehouse (schema version \(found); this binary supports up to \(supported)). Upgrade gatehouse, or point --db at another file."
        )
    }

    static func damaged(_ detail: String) -> StoreError {
        StoreError(.damaged, "the database is damaged: \(detail)")
    }
}
