import Foundation
import GRDB
import GatehouseModel
import Synchronization

/// The control plane's one writer of config. Every successful `write` is one SQLite transaction
/// that stores the new entity rows and version N+1, durable (WAL, `synchronous=FULL`) before it
/// returns. Reads are served from the in-memory current state. Thread-safe; writes are serialized.
public final class ConfigStore: Sendable {
    /// The committed state: the current snapshot and each entity's timestamps, by id.
    public struct State: Sendable {
        public let snapshot: Snapshot
        public let times: [String: EntityTimes]
    }

    /// One entry of the history.
    public struct VersionInfo: Sendable {
        public let version: Int
        public let hash: String
        public let summary: String
        public let createdAt: Int
        public let changes: JSONValue
    }

    let pool: DatabasePool
    private let state: Mutex<State>
    private let clock: @Sendable () -> Int
    private let onCommit: @Sendable (Snapshot) -> Void

    /// Opens (creating if needed) and migrates the database at `path`.
    /// - Parameters:
    ///   - clock: unix seconds, injected so tests control time.
    ///   - onCommit: called with every committed snapshot, after the commit, in version order.
    public init(
        path: String,
        clock: @escaping @Sendable () -> Int = { Int(Date().timeIntervalSince1970) },
        onCommit: @escaping @Sendable (Snapshot) -> Void = { _ in }
    ) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.foreignKeysEnabled = true
        pool = try DatabasePool(path: path, configuration: configuration)
        // GRDB puts WAL pools on synchronous=NORMAL, which may lose the last commits on power
        // loss. A version is acknowledged as durable, so the writer connection syncs every commit.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try SchemaMigrator().migrate(pool)
        self.clock = clock
        self.onCommit = onCommit
        state = Mutex(try Self.load(pool))
    }

    public var current: State { state.withLock { $0 } }

    /// The newest committed snapshot of the database at `path`, read without writing anything
    /// (no migration): what a standby process serves while another process is the writer. Nil
    /// when the database has no schema yet.
    public static func latestSnapshot(path: String) throws -> Snapshot? {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        return try queue.read { db in
            guard try db.tableExists("config_versions") else { return nil }
            guard let row = try Row.fetchOne(db, sql: "SELECT version, document FROM config_versions ORDER BY version DESC LIMIT 1") else {
                return Snapshot(version: 0, document: ConfigDocument())
            }
            return Snapshot(version: row["version"], document: try decodeDocument(row["document"]))
        }
    }

    private static func load(_ pool: DatabasePool) throws -> State {
        try pool.read { db in
            var times: [String: EntityTimes] = [:]
            for table in ["upstreams", "routes", "consumers", "credentials", "policies"] {
                for row in try Row.fetchAll(db, sql: "SELECT id, created_at, updated_at FROM \(table)") {
                    times[row["id"]] = EntityTimes(createdAt: row["created_at"], updatedAt: row["updated_at"])
                }
            }
            guard let row = try Row.fetchOne(db, sql: "SELECT version, document FROM config_versions ORDER BY version DESC LIMIT 1") else {
                return State(snapshot: Snapshot(version: 0, document: ConfigDocument()), times: times)
            }
            let document = try decodeDocument(row["document"])
            return State(snapshot: Snapshot(version: row["version"], document: document), times: times)
        }
    }

    static func decodeDocument(_ data: Data) throws -> ConfigDocument {
        do {
            return try ConfigDocument.read(try JSONValue.parse(data))
        } catch {
            throw StoreError.corrupt(error.description)
        }
    }

    /// Applies `mutate` to a copy of the current document, validates the whole result, and commits
    /// it as the next version. Nothing is written when `mutate` or validation throws, or when
    /// `ifMatch` is given and is not the current version. With `skipIfUnchanged`, a change that
    /// leaves the document as it was commits nothing and returns the current snapshot.
    @discardableResult
    public func write<Result>(
        ifMatch: Int? = nil,
        summary: String? = nil,
        skipIfUnchanged: Bool = false,
        _ mutate: (inout ConfigDocument) throws -> Result
    ) throws -> (result: Result, snapshot: Snapshot) {
        let (result, snapshot) = try state.withLock { state throws -> (Result, Snapshot) in
            let old = state.snapshot
            if let ifMatch, ifMatch != old.version {
                throw ConfigError(code: .preconditionFailed, message: "If-Match names version \(ifMatch), but the current version is \(old.version)")
            }
            var document = old.document
            let result = try mutate(&document)
            document.sort()
            try document.validate()
            if skipIfUnchanged, document == old.document { return (result, old) }
            let diff = ConfigDiff(from: old.document, to: document)
            let snapshot = Snapshot(version: old.version + 1, document: document)
            let now = clock()
            let oldTimes = state.times
            let changes = diff.json().canonicalString
            let summary = summary ?? diff.summary
            let times = try pool.write { (db: Database) throws -> [String: EntityTimes] in
                let times = try Self.persist(db, from: old.document, to: document, times: oldTimes, now: now)
                try db.execute(
                    sql: "INSERT INTO config_versions (version, hash, summary, changes, created_at, document) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [snapshot.version, snapshot.hash, summary, changes, now, Data(snapshot.canonicalJSON)]
                )
                return times
            }
            state = State(snapshot: snapshot, times: times)
            onCommit(snapshot)
            return (result, snapshot)
        }
        return (result, snapshot)
    }

    public func versions(limit: Int, before: Int?) throws -> [VersionInfo] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT version, hash, summary, changes, created_at FROM config_versions WHERE version < ? ORDER BY version DESC LIMIT ?",
                arguments: [before ?? Int.max, limit]
            ).map { row in
                VersionInfo(
                    version: row["version"], hash: row["hash"], summary: row["summary"], createdAt: row["created_at"],
                    changes: (try? JSONValue.parse(Data((row["changes"] as String).utf8))) ?? .array([])
                )
            }
        }
    }

    /// The snapshot of version `n`, or nil when there is no such version. Version 0 is the empty
    /// config every database starts from.
    public func snapshot(version: Int) throws -> Snapshot? {
        if version == 0 { return Snapshot(version: 0, document: ConfigDocument()) }
        let data = try pool.read { db in
            try Data.fetchOne(db, sql: "SELECT document FROM config_versions WHERE version = ?", arguments: [version])
        }
        return try data.map { Snapshot(version: version, document: try Self.decodeDocument($0)) }
    }
}
