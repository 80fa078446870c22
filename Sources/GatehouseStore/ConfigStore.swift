import Foundation
import GRDB
import GatehouseModel
import Synchronization

/// The control plane's one writer of config. Every successful `write` is one SQLite transaction
/// that stores the new entity rows and version N+1, durable (WAL, `synchronous=FULL`) before it
/// returns, and refused (`storageUnavailable`) when the database file is no longer at its path.
/// Reads are served from the in-memory current state. Thread-safe; writes are serialized.
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
        /// The document was dropped by the history retention; the entry stays.
        public let pruned: Bool
        /// Who made it (empty for versions made before authors were recorded).
        public let author: Author
    }

    let pool: DatabasePool
    private let state: Mutex<State>
    private let clock: @Sendable () -> Int
    private let onCommit: @Sendable (Snapshot) -> Void
    private let admit: @Sendable (ConfigDocument) throws(ConfigError) -> Void
    private let historyKeep: Int?
    private let files: DatabaseFiles
    /// Seals certificate keys before they are written; nil when `GATEHOUSE_SECRET_KEY` is unset.
    public let sealer: KeySealer?

    /// Opens and migrates the database at `path`, creating it when no file is there. An existing
    /// file that is empty, fails SQLite's `quick_check`, or whose current document does not match
    /// its hash is refused (`damaged`), never taken for an empty config.
    /// - Parameters:
    ///   - clock: unix seconds, injected so tests control time.
    ///   - onCommit: called with every committed snapshot, after the commit, in version order.
    ///   - admit: the checks a data plane makes before it serves a document (TLS material that
    ///     must load, policies it must build), run on every document before it is committed, so a
    ///     version no data plane could serve is refused at the door rather than after the commit.
    ///   - historyKeep: keep the documents of the newest this many versions (at least 1); nil keeps all.
    ///   - sealer: what seals certificate keys given in clear; without it, they are refused.
    public init(
        path: String,
        clock: @escaping @Sendable () -> Int = { Int(Date().timeIntervalSince1970) },
        onCommit: @escaping @Sendable (Snapshot) -> Void = { _ in },
        admit: @escaping @Sendable (ConfigDocument) throws(ConfigError) -> Void = { _ in },
        historyKeep: Int? = nil,
        sealer: KeySealer? = nil
    ) throws {
        self.sealer = sealer
        precondition(historyKeep.map { $0 >= 1 } ?? true, "historyKeep must be at least 1")
        try Self.prepareFile(at: path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.foreignKeysEnabled = true
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // GRDB puts WAL pools on synchronous=NORMAL, which may lose the last commits on power
            // loss. A version is acknowledged as durable, so the writer connection syncs every commit.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try Self.checkIntegrity(pool, path: path)
            let applied = try SchemaMigrator().migrate(pool)
            if applied.contains(SchemaMigrator.historyDeltas), !applied.contains(1) {
                // The history was just rewritten as deltas: give the space back once, and let
                // pruning give it back from now on.
                try pool.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
                    try db.execute(sql: "VACUUM")
                }
            }
            if let historyKeep {
                try pool.write { db in
                    let newest = try Int.fetchOne(db, sql: "SELECT MAX(version) FROM config_versions") ?? 0
                    try Self.prune(db, newest: newest, keep: historyKeep)
                }
            }
            state = Mutex(try Self.load(pool))
        } catch let error as DatabaseError where [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode) {
            throw StoreError.damaged("\(path): \(error.message ?? "\(error)")")
        }
        files = DatabaseFiles(path: path)
        self.clock = clock
        self.onCommit = onCommit
        self.admit = admit
        self.historyKeep = historyKeep
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
            // The writer may be an older Gatehouse, whose schema kept each document whole.
            if try db.columns(in: "config_versions").contains(where: { $0.name == "document" }) {
                guard let row = try Row.fetchOne(db, sql: "SELECT version, document FROM config_versions ORDER BY version DESC LIMIT 1") else {
                    return Snapshot(version: 0, document: ConfigDocument())
                }
                return Snapshot(version: row["version"], document: try decodeDocument(row["document"]))
            }
            return try newestSnapshot(db)
        }
    }

    private static func load(_ pool: DatabasePool) throws -> State {
        try pool.read { db in
            var times: [String: EntityTimes] = [:]
            for table in ["upstreams", "routes", "consumers", "credentials", "policies", "certificates"] {
                for row in try Row.fetchAll(db, sql: "SELECT id, created_at, updated_at FROM \(table)") {
                    times[row["id"]] = EntityTimes(createdAt: row["created_at"], updatedAt: row["updated_at"])
                }
            }
            return State(snapshot: try newestSnapshot(db), times: times)
        }
    }

    private static func newestSnapshot(_ db: Database) throws -> Snapshot {
        guard let newest = try Int.fetchOne(db, sql: "SELECT MAX(version) FROM config_versions") else {
            return Snapshot(version: 0, document: ConfigDocument())
        }
        guard let document = try storedDocument(db, version: newest) else { throw StoreError.damaged("version \(newest) vanished while read") }
        return try document.snapshot()
    }

    static func decodeDocument(_ data: Data) throws -> ConfigDocument {
        do {
            return try ConfigDocument.read(try JSONValue.parse(data))
        } catch {
            throw StoreError.damaged("an unreadable config: \(error.description)")
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
        author: Author = Author(name: "", address: "", via: ""),
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
            try document.sealCertificateKeys(previous: old.document, sealer: sealer)
            try document.validate()
            if skipIfUnchanged, document == old.document { return (result, old) }
            try document.validateNewNames(since: old.document)
            try admit(document)
            let diff = ConfigDiff(from: old.document, to: document)
            let snapshot = Snapshot(version: old.version + 1, document: document)
            let now = clock()
            let oldTimes = state.times
            let changes = diff.json().canonicalString
            let summary = summary ?? diff.summary
            let historyKeep = historyKeep
            // A commit through descriptors whose files left the path is lost at the next start:
            // checked before (nothing is written) and after (the commit is not acknowledged).
            try files.verify()
            let times = try Self.storageFailure {
                try pool.write { (db: Database) throws -> [String: EntityTimes] in
                    let times = try Self.persist(db, from: old.document, to: document, times: oldTimes, now: now)
                    try db.execute(
                        sql: """
                            INSERT INTO config_versions (version, hash, summary, changes, created_at, author, address, via)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [snapshot.version, snapshot.hash, summary, changes, now, author.name, author.address, author.via]
                    )
                    try Self.storeDocument(db, version: snapshot.version, document: snapshot.canonicalJSON, previous: old.canonicalJSON)
                    if let historyKeep { try Self.prune(db, newest: snapshot.version, keep: historyKeep) }
                    return times
                }
            }
            try files.verify()
            state = State(snapshot: snapshot, times: times)
            onCommit(snapshot)
            return (result, snapshot)
        }
        return (result, snapshot)
    }

    /// SQLite's failures to write the file (disk full, I/O error, read-only) as
    /// `storageUnavailable`: the storage refused, not the request.
    private static func storageFailure<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError where [.SQLITE_FULL, .SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_CANTOPEN].contains(error.resultCode) {
            throw StoreError(.storageUnavailable, "the database could not be written (\(error.message ?? "\(error.resultCode)")); nothing was committed")
        }
    }

    /// What `write` does to a document beyond its own validation, for a dry run to refuse what
    /// the write would and show what it would write: keys sealed, names new since `old`, and the
    /// data plane's admission.
    public func prepared(_ document: ConfigDocument, since old: ConfigDocument) throws(ConfigError) -> ConfigDocument {
        var document = document
        try document.sealCertificateKeys(previous: old, sealer: sealer)
        guard document != old else { return document }
        try document.validateNewNames(since: old)
        try admit(document)
        return document
    }

    public func versions(limit: Int, before: Int?) throws -> [VersionInfo] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT version, hash, summary, changes, created_at, pruned, author, address, via FROM config_versions
                    WHERE version < ? ORDER BY version DESC LIMIT ?
                    """,
                arguments: [before ?? Int.max, limit]
            ).map { row in
                VersionInfo(
                    version: row["version"], hash: row["hash"], summary: row["summary"], createdAt: row["created_at"],
                    changes: (try? JSONValue.parse(Data((row["changes"] as String).utf8))) ?? .array([]), pruned: row["pruned"],
                    author: Author(name: row["author"], address: row["address"], via: row["via"])
                )
            }
        }
    }

    /// The snapshot of version `n`, or nil when there is no such version. Version 0 is the empty
    /// config every database starts from. Throws `pruned` when retention dropped its document,
    /// `damaged` when the stored document does not match its hash.
    public func snapshot(version: Int) throws -> Snapshot? {
        if version == 0 { return Snapshot(version: 0, document: ConfigDocument()) }
        if version == current.snapshot.version { return current.snapshot }
        return try document(version: version)?.snapshot()
    }

    /// Version `n`'s canonical document, checked against its hash, without parsing it (what
    /// `GET /versions/{n}` serves); nil when there is no such version. Throws as `snapshot` does.
    public func document(version: Int) throws -> StoredDocument? {
        if version == 0 {
            let empty = Snapshot(version: 0, document: ConfigDocument())
            return StoredDocument(version: 0, hash: empty.hash, canonicalJSON: empty.canonicalJSON)
        }
        return try pool.read { db in try Self.storedDocument(db, version: version) }
    }
}
