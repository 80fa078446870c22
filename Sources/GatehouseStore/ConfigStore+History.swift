import Foundation
import GRDB
import GatehouseModel

/// Where each version's document lives: `version_documents`, one row per version that has its
/// document, either whole (a checkpoint, `base` NULL) or as the `HistoryDelta` from the version
/// before (`base` = version − 1). A version costs the size of its change; a checkpoint is written
/// when the deltas since the last one add up to a document, or after `checkpointEvery` of them,
/// which bounds both the space (at most about twice the changes) and the work of reading one back.
/// Every document read back is checked against the version's hash.
extension ConfigStore {
    /// The most deltas read to rebuild a version.
    static let checkpointEvery = 1000

    /// The deltas stored since the last checkpoint.
    struct HistoryChain {
        var deltas = 0
        var bytes = 0

        /// The row to store for a document: a delta from `previous`, or the document whole
        /// when a delta would not pay or the chain is long enough.
        mutating func entry(for document: [UInt8], previous: [UInt8]?) -> (isDelta: Bool, body: [UInt8]) {
            guard let previous, deltas + 1 < ConfigStore.checkpointEvery else { return whole(document) }
            let delta = HistoryDelta(from: previous, to: document).encoded
            guard delta.count * 4 <= document.count, bytes + delta.count <= document.count else { return whole(document) }
            deltas += 1
            bytes += delta.count
            return (true, delta)
        }

        private mutating func whole(_ document: [UInt8]) -> (isDelta: Bool, body: [UInt8]) {
            self = HistoryChain()
            return (false, document)
        }
    }

    /// Stores version `version`'s document, as a delta from `previous` (version − 1's document)
    /// when that pays.
    static func storeDocument(_ db: Database, version: Int, document: [UInt8], previous: [UInt8]?) throws {
        var chain = HistoryChain()
        var previous = previous
        if let checkpoint = try Int.fetchOne(
            db, sql: "SELECT MAX(version) FROM version_documents WHERE base IS NULL AND version < ?", arguments: [version])
        {
            let row = try Row.fetchOne(
                db, sql: "SELECT COUNT(*), TOTAL(length(body)), MAX(version) FROM version_documents WHERE version > ? AND version < ?",
                arguments: [checkpoint, version])!
            chain = HistoryChain(deltas: row[0], bytes: Int(row[1] as Double))
            // The delta's base must be stored: it is not when retention dropped it.
            if (row[2] as Int?) ?? checkpoint != version - 1 { previous = nil }
        } else {
            previous = nil
        }
        let entry = chain.entry(for: document, previous: previous)
        try db.execute(
            sql: "INSERT INTO version_documents (version, base, body) VALUES (?, ?, ?)",
            arguments: [version, entry.isDelta ? version - 1 : nil, Data(entry.body)]
        )
    }

    /// Version `version`'s document from its checkpoint and the deltas after it; nil when the
    /// version has no stored document. Not checked against the hash (`storedDocument` does that).
    static func readDocument(_ db: Database, version: Int) throws -> [UInt8]? {
        guard
            let checkpoint = try Int.fetchOne(
                db, sql: "SELECT MAX(version) FROM version_documents WHERE base IS NULL AND version <= ?", arguments: [version])
        else { return nil }
        let rows = try Row.fetchCursor(
            db, sql: "SELECT version, base, body FROM version_documents WHERE version >= ? AND version <= ? ORDER BY version",
            arguments: [checkpoint, version])
        var chain: DeltaChain?
        var reached = checkpoint - 1
        while let row = try rows.next() {
            let rowVersion: Int = row["version"]
            let body: Data = row["body"]
            guard rowVersion == reached + 1 else { return nil }  // a gap: this version's document is gone
            if chain == nil {
                chain = DeltaChain(checkpoint: [UInt8](body))
            } else {
                guard row["base"] as Int? == reached else { throw StoreError.damaged("version \(rowVersion)'s delta names another base") }
                try chain!.apply(HistoryDelta(encoded: [UInt8](body)))
            }
            reached = rowVersion
        }
        guard reached == version else { return nil }
        return chain?.bytes()
    }

    /// Version `version`'s document, checked against its hash; nil when there is no such version.
    /// Throws `pruned` when retention dropped it.
    static func storedDocument(_ db: Database, version: Int) throws -> StoredDocument? {
        guard let row = try Row.fetchOne(db, sql: "SELECT hash, pruned FROM config_versions WHERE version = ?", arguments: [version]) else {
            return nil
        }
        if row["pruned"] as Bool {
            let oldest = try Int.fetchOne(db, sql: "SELECT MIN(version) FROM config_versions WHERE pruned = 0")
            throw StoreError(
                .pruned,
                "version \(version)'s document was pruned by the history retention (--history-keep); the oldest version kept is \(oldest.map(String.init) ?? "none")"
            )
        }
        let hash: String = row["hash"]
        guard let bytes = try readDocument(db, version: version) else {
            throw StoreError.damaged("version \(version)'s document is missing from the history")
        }
        guard StoredDocument.hash(of: bytes) == hash else {
            throw StoreError.damaged("version \(version)'s document does not match its hash \(hash.prefix(12))…")
        }
        return StoredDocument(version: version, hash: hash, canonicalJSON: bytes)
    }

    /// Keeps the newest `keep` versions' documents: older versions are marked pruned (their
    /// entries in `/versions` stay), and their rows go once no kept version is rebuilt from them.
    /// The oldest kept version is made a checkpoint when more than `keep` older rows are only
    /// kept as its base, so at most about twice `keep` versions' rows remain.
    static func prune(_ db: Database, newest: Int, keep: Int) throws {
        let oldest = newest - keep + 1
        guard oldest > 1 else { return }
        try db.execute(sql: "UPDATE config_versions SET pruned = 1 WHERE version < ? AND pruned = 0", arguments: [oldest])
        guard
            var checkpoint = try Int.fetchOne(
                db, sql: "SELECT MAX(version) FROM version_documents WHERE base IS NULL AND version <= ?", arguments: [oldest])
        else { return }
        if checkpoint < oldest - keep {
            guard let document = try storedDocument(db, version: oldest) else { return }
            try db.execute(
                sql: "UPDATE version_documents SET base = NULL, body = ? WHERE version = ?", arguments: [Data(document.canonicalJSON), oldest])
            checkpoint = oldest
        }
        try db.execute(sql: "DELETE FROM version_documents WHERE version < ?", arguments: [checkpoint])
        if db.changesCount > 0 { try db.execute(sql: "PRAGMA incremental_vacuum") }
    }

    /// Migration 2's step: the documents it moved into `version_documents` whole become deltas
    /// where they pay, each checked against its version's hash first, in the same transaction.
    static func encodeHistory(_ db: Database) throws {
        let versions = try Int.fetchAll(db, sql: "SELECT version FROM version_documents ORDER BY version")
        var chain = HistoryChain()
        var previous: (version: Int, document: [UInt8])?
        for version in versions {
            let row = try Row.fetchOne(
                db, sql: "SELECT d.body, v.hash FROM version_documents d JOIN config_versions v USING (version) WHERE version = ?",
                arguments: [version])!
            let document = [UInt8](row[0] as Data)
            guard StoredDocument.hash(of: document) == row[1] as String else {
                throw StoreError.damaged("version \(version)'s document does not match its hash")
            }
            let entry = chain.entry(for: document, previous: previous?.version == version - 1 ? previous?.document : nil)
            if entry.isDelta {
                try db.execute(
                    sql: "UPDATE version_documents SET base = ?, body = ? WHERE version = ?", arguments: [version - 1, Data(entry.body), version])
            }
            previous = (version, document)
        }
    }
}
