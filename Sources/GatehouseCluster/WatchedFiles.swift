import Logging
import Synchronization

/// A value loaded from files and loaded again when one of them changes (inode, size or
/// modification time, looked at once a second at most), so a certificate renewed on disk is used
/// without a restart. A version that does not load (half-written, a key that does not match) is
/// logged and the last good value kept.
final class WatchedFiles<Value: Sendable>: Sendable {
    private let paths: [String]
    private let load: @Sendable () throws -> Value
    private let what: String
    private let logger: Logger
    private let state: Mutex<(value: Value, stamps: [FileStamp?], checked: ContinuousClock.Instant)>

    init(_ paths: [String], what: String, logger: Logger, load: @escaping @Sendable () throws -> Value) throws {
        self.paths = paths
        self.what = what
        self.logger = logger
        self.load = load
        let stamps = paths.map(FileStamp.init)
        state = Mutex((try load(), stamps, .now))
    }

    var current: Value {
        let now = ContinuousClock.now
        let due = state.withLock { state -> [FileStamp?]? in
            guard now - state.checked >= ClusterTokens.checkInterval else { return nil }
            state.checked = now
            return state.stamps
        }
        if let known = due {
            let stamps = paths.map(FileStamp.init)
            if stamps != known {
                do {
                    let value = try load()
                    state.withLock { ($0.value, $0.stamps) = (value, stamps) }
                    logger.notice("\(what) read again", metadata: ["files": "\(paths.joined(separator: ", "))"])
                } catch {
                    state.withLock { $0.stamps = stamps }
                    logger.error("\(what) changed but cannot be loaded; the one loaded before stays", metadata: ["error": "\(error)"])
                }
            }
        }
        return state.withLock { $0.value }
    }
}
