#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The database file and its WAL as this process opened them (device and inode). SQLite keeps
/// writing through its open descriptors after the files are removed or replaced at their path,
/// and such writes vanish at the next start; comparing the path's files with these before and
/// after each commit is how the store refuses to acknowledge a write that is not at the path.
struct DatabaseFiles: Sendable {
    struct Identity: Sendable, Equatable {
        let device: UInt64
        let inode: UInt64
    }

    let path: String
    private let database: Identity?
    private let wal: Identity?

    /// Records what is at the path now: call once the database is open (and its WAL exists).
    init(path: String) {
        self.path = path
        database = Self.identity(of: path)
        wal = Self.identity(of: path + "-wal")
    }

    static func identity(of path: String) -> Identity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// Throws `storageUnavailable` when the database file or its WAL is gone from the path or
    /// is another file now.
    func verify() throws(StoreError) {
        for (file, opened) in [(path, database), (path + "-wal", wal)] {
            guard let opened else { continue }
            let now = Self.identity(of: file)
            guard now != opened else { continue }
            let what = now == nil ? "is gone (removed, or its directory was)" : "was replaced by another file"
            throw StoreError(
                .storageUnavailable,
                "the database file \(file) \(what) since this process opened it, so a write could not be made durable there; nothing was written. Restore the file and restart gatehouse"
            )
        }
    }
}
