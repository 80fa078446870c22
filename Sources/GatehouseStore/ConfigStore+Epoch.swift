import Foundation
import GRDB

extension ConfigStore {
    /// Starts a new epoch of this database's history and returns it: a random id the cluster
    /// protocol sends with every snapshot. The writer calls it each time it opens the database, so
    /// a history that starts again from an older version (a restore from backup) is never taken
    /// for the one data planes followed before; a standby reads it with `epoch(path:)`.
    public func startEpoch() throws -> String {
        let epoch = UUID().uuidString.lowercased()
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO cluster_epoch (id, epoch, started_at) VALUES (1, ?, strftime('%s','now'))
                    ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch, started_at = excluded.started_at
                    """, arguments: [epoch])
        }
        return epoch
    }

    /// The epoch the writer of the database at `path` started, read without writing anything;
    /// nil before a writer started one.
    public static func epoch(path: String) throws -> String? {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        return try queue.read { db in
            guard try db.tableExists("cluster_epoch") else { return nil }
            return try String.fetchOne(db, sql: "SELECT epoch FROM cluster_epoch WHERE id = 1")
        }
    }
}
