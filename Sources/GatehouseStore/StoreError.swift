/// Failures of the database itself, as opposed to invalid config (`ConfigError`).
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let description: String

    static func schemaTooNew(found: Int, supported: Int) -> StoreError {
        StoreError(
            description:
                "the database was written by a newer Gatehouse (schema version \(found); this binary supports up to \(supported)). Upgrade gatehouse, or point --db at another file."
        )
    }

    static func corrupt(_ detail: String) -> StoreError {
        StoreError(description: "the database holds an unreadable config: \(detail)")
    }
}
