import GRDB
import GatehouseModel

/// Turns the difference between two documents into row inserts, updates and deletes, so the
/// entity tables (and their constraints) always hold exactly the committed document. Rows are
/// compared by value; only changed ones are serialized and written.
extension ConfigStore {
    private struct Row {
        var id: String
        var name: String?
        /// Foreign keys and other indexed columns, cheap to compute for every row.
        var columns: [String: DatabaseValue]
        /// What the body is made of, compared before anything is serialized.
        var value: AnyHashable
        var body: () -> String

        func sameAs(_ other: Row) -> Bool {
            name == other.name && columns == other.columns && value == other.value
        }
    }

    private struct Table: Sendable {
        var name: String
        var rows: @Sendable (ConfigDocument) -> [Row]
    }

    // Parents before children: inserts run in this order, deletes in reverse.
    private static let tables: [Table] = [
        Table(name: "upstreams") { document in
            document.upstreams.map { upstream in
                Row(id: upstream.id, name: upstream.name, columns: [:], value: upstream, body: { upstream.json().canonicalString })
            }
        },
        Table(name: "consumers") { document in
            document.consumers.map { consumer in
                var bare = consumer
                bare.credentials = []
                return Row(
                    id: consumer.id, name: consumer.name, columns: ["custom_id": consumer.customID.databaseValue], value: bare,
                    body: { bare.jsonWithoutCredentials().canonicalString }
                )
            }
        },
        Table(name: "credentials") { document in
            document.consumers.flatMap { consumer in
                consumer.credentials.map { credential in
                    Row(
                        id: credential.id, name: nil,
                        columns: [
                            "consumer_id": consumer.id.databaseValue, "type": credential.type.databaseValue,
                            "lookup": credential.uniqueKey.databaseValue,
                        ],
                        value: credential, body: { credential.json().canonicalString }
                    )
                }
            }
        },
        Table(name: "routes") { document in
            let upstreamIDs = Dictionary(document.upstreams.map { ($0.name, $0.id) }, uniquingKeysWith: { a, _ in a })
            return document.routes.map { route in
                Row(
                    id: route.id, name: route.name, columns: ["upstream_id": upstreamIDs[route.upstream].databaseValue], value: route,
                    body: { route.json().canonicalString }
                )
            }
        },
        Table(name: "policies") { document in
            let routeIDs = Dictionary(document.routes.map { ($0.name, $0.id) }, uniquingKeysWith: { a, _ in a })
            let consumerIDs = Dictionary(document.consumers.map { ($0.name, $0.id) }, uniquingKeysWith: { a, _ in a })
            return document.policies.map { policy in
                Row(
                    id: policy.id, name: policy.name,
                    columns: [
                        "type": policy.type.rawValue.databaseValue,
                        "route_id": policy.route.flatMap { routeIDs[$0] }.databaseValue,
                        "consumer_id": policy.consumer.flatMap { consumerIDs[$0] }.databaseValue,
                    ],
                    value: policy, body: { policy.json().canonicalString }
                )
            }
        },
        Table(name: "certificates") { document in
            document.certificates.map { certificate in
                Row(id: certificate.id, name: certificate.name, columns: [:], value: certificate, body: { certificate.json().canonicalString })
            }
        },
    ]

    static func persist(
        _ db: Database, from old: ConfigDocument, to new: ConfigDocument, times: [String: EntityTimes], now: Int
    ) throws -> [String: EntityTimes] {
        // References are checked at commit, so rows can be replaced in any order within it.
        try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
        var times = times
        let changes = tables.map { table in
            (table, Dictionary(table.rows(old).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }), table.rows(new))
        }
        for (table, before, after) in changes.reversed() {
            let keep = Set(after.map(\.id))
            for id in before.keys where !keep.contains(id) {
                try db.execute(sql: "DELETE FROM \(table.name) WHERE id = ?", arguments: [id])
                times[id] = nil
            }
        }
        // Free the names of renamed rows first, so two entities may swap names in one change.
        for (table, before, after) in changes {
            for row in after where before[row.id] != nil && before[row.id]!.name != row.name {
                try db.execute(sql: "UPDATE \(table.name) SET name = '~' || id WHERE id = ?", arguments: [row.id])
            }
        }
        for (table, before, after) in changes {
            for row in after where !(before[row.id]?.sameAs(row) ?? false) {
                let created = times[row.id]?.createdAt ?? now
                times[row.id] = EntityTimes(createdAt: created, updatedAt: now)
                var columns = row.columns
                columns["id"] = row.id.databaseValue
                if let name = row.name { columns["name"] = name.databaseValue }
                columns["body"] = row.body().databaseValue
                columns["created_at"] = created.databaseValue
                columns["updated_at"] = now.databaseValue
                let names = columns.keys.sorted()
                // An upsert, not INSERT OR REPLACE: replacing a consumer row would cascade to its credentials.
                let sql = """
                    INSERT INTO \(table.name) (\(names.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))
                    ON CONFLICT(id) DO UPDATE SET \(names.filter { $0 != "id" && $0 != "created_at" }.map { "\($0) = excluded.\($0)" }.joined(separator: ", "))
                    """
                try db.execute(sql: sql, arguments: StatementArguments(names.map { columns[$0]! }))
            }
        }
        return times
    }
}
