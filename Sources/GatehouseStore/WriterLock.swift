#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one-writer-per-database guarantee across processes: an exclusive `flock` on
/// `<database>-writer.lock`. The kernel releases it when the holding process exits, even on
/// `kill -9`, so a standby process can take over as soon as the old writer is gone.
public final class WriterLock: Sendable {
    public let path: String
    private let descriptor: Int32

    public init(databasePath: String) throws {
        path = databasePath + "-writer.lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw StoreError(.storageUnavailable, "cannot open the writer lock \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        close(descriptor)
    }

    /// Takes the lock if no other process holds it. Holding it already returns true.
    public func tryAcquire() -> Bool {
        flock(descriptor, LOCK_EX | LOCK_NB) == 0
    }
}
