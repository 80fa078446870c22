import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// One thread, of the lowest CPU priority (nice 19), that compiles snapshots: on a busy machine
/// the event loops' threads go first and a compile takes the time they leave, so config changes
/// under load cost requests as little latency as the machine allows. A compile still moves on
/// when every core is busy (nice is a weight, not a ban). Thread-safe; one per process.
public final class CompileThread: Sendable {
    public static let shared = CompileThread()

    private let pool: NIOThreadPool

    private init() {
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    /// Runs `body` on the thread and returns its result.
    public func run<Result: Sendable>(_ body: @escaping @Sendable () -> Result) async -> Result {
        do {
            return try await pool.runIfActive {
                Self.lowerPriority()
                return body()
            }
        } catch {
            // The pool is never shut down; should it be, the caller's task does the work.
            return body()
        }
    }

    private static func lowerPriority() {
        #if os(Linux)
        // On Linux the nice value is the thread's own, and `who` 0 is the calling thread (the
        // kernel's `current`): the event loops' threads keep theirs.
        setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
        #endif
    }
}
