import GRDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What is checked before the database is trusted: a missing file is created whole, an empty or
/// damaged one is refused (never taken for an empty config), and the file's structure passes
/// SQLite's `quick_check`.
extension ConfigStore {
    /// Makes sure `path` holds a database to open. A file that does not exist is created with the
    /// schema beside it and linked into place in one step, so a database Gatehouse made is never
    /// seen empty or half made, and an existing zero-length file means one was truncated.
    static func prepareFile(at path: String) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_size > 0 else {
                throw StoreError.damaged(
                    "\(path) exists but is empty (0 bytes); a Gatehouse database never is, so it was truncated or is not one. Restore it from a backup, or remove it to start with an empty config"
                )
            }
            return
        }
        guard errno == ENOENT else { return }  // let SQLite say why it cannot open the path
        let fresh = path + ".creating-\(getpid())"
        unlink(fresh)
        defer { unlink(fresh) }
        do {
            let queue = try DatabaseQueue(path: fresh)
            try queue.writeWithoutTransaction { db in
                // Space freed by pruned history goes back to the file system (`prune`).
                try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            _ = try SchemaMigrator().migrate(queue)
            try queue.close()
        } catch {
            throw StoreError(.storageUnavailable, "cannot create the database \(path): \(error)")
        }
        guard link(fresh, path) == 0 || errno == EEXIST else {
            throw StoreError(.storageUnavailable, "cannot create the database \(path): \(String(cString: strerror(errno)))")
        }
        syncDirectory(of: path)
    }

    /// Refuses a database whose structure is damaged (garbage over a page, a truncated file).
    static func checkIntegrity(_ pool: DatabasePool, path: String) throws {
        let found = try pool.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check(5)") }
        guard found != ["ok"] else { return }
        let problems = found.filter { !$0.hasPrefix("*** in database") }
        throw StoreError.damaged(
            "\(path) fails SQLite's integrity check (\(problems.joined(separator: "; "))). Restore it from a backup; gatehouse will not start on it"
        )
    }

    private static func syncDirectory(of path: String) {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let descriptor = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }
}
