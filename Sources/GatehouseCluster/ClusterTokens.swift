import Crypto
import Foundation
import Logging
import Synchronization

/// The cluster's shared secrets: the first is the one this process sends and signs with, and
/// every one is accepted. Given as a flag they are fixed; from a file (one per line) they are read
/// again when the file changes, so a rotation needs no restart: put the new token first and keep
/// the old one under it on the control plane, give the data planes the new one, then drop the old
/// line (docs/cluster-protocol.md, "Rotating the token").
public final class ClusterTokens: Sendable {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public static let minimumLength = 16
    public static let maximumCount = 4
    /// How often the file's identity (inode, size, modification time) is looked at, at most.
    static let checkInterval = Duration.seconds(1)

    private struct State {
        var tokens: [String]
        var stamp: FileStamp?
        var checked: ContinuousClock.Instant
    }

    private let file: String?
    private let logger: Logger?
    private let state: Mutex<State>

    /// One fixed token (`--cluster-token`).
    public init(_ token: String) {
        file = nil
        logger = nil
        state = Mutex(State(tokens: [token], stamp: nil, checked: .now))
    }

    /// The tokens in `file`, read now (a file that cannot be used is an error) and again whenever
    /// it changes; a later version that cannot be used is logged and the tokens before it kept.
    public init(file: String, logger: Logger) throws(Invalid) {
        self.file = file
        self.logger = logger
        let (tokens, stamp) = try Self.read(file)
        state = Mutex(State(tokens: tokens, stamp: stamp, checked: .now))
    }

    /// The token this process sends and signs with.
    public var current: String { refreshed()[0] }

    /// Every accepted token, the current one first.
    public var accepted: [String] { refreshed() }

    /// The accepted token equal to `given`, compared as digests in constant time; nil if none.
    public func matching(_ given: some StringProtocol) -> String? {
        let digest = SHA256.hash(data: Array(given.utf8))
        var found: String?
        for token in refreshed() where SHA256.hash(data: Array(token.utf8)) == digest { found = token }
        return found
    }

    public func accepts(_ token: String) -> Bool { refreshed().contains(token) }

    private func refreshed() -> [String] {
        guard let file else { return state.withLock { $0.tokens } }
        let now = ContinuousClock.now
        let due = state.withLock { state -> FileStamp?? in
            guard now - state.checked >= Self.checkInterval else { return .none }
            state.checked = now
            return .some(state.stamp)
        }
        if case .some(let known) = due, FileStamp(file) != known {
            do {
                let (tokens, stamp) = try Self.read(file)
                let changed = state.withLock { state -> Bool in
                    defer { (state.tokens, state.stamp) = (tokens, stamp) }
                    return state.tokens != tokens
                }
                if changed { logger?.notice("cluster tokens read again", metadata: ["file": "\(file)", "tokens": "\(tokens.count)"]) }
            } catch {
                // Half-written, emptied or unreadable: what was read before keeps working.
                logger?.error("the cluster token file cannot be used; the tokens read before stay", metadata: ["file": "\(file)", "error": "\(error)"])
                state.withLock { $0.stamp = FileStamp(file) }
            }
        }
        return state.withLock { $0.tokens }
    }

    /// The tokens of `file` (and what tells this version of it apart), or why they cannot be used.
    public static func read(_ file: String) throws(Invalid) -> ([String], FileStamp?) {
        let stamp = FileStamp(file)
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw Invalid(description: "cannot read the cluster token file \(file)")
        }
        return (try parse(text), stamp)
    }

    /// One token a line; blank lines and `#` comments are skipped.
    static func parse(_ text: String) throws(Invalid) -> [String] {
        let tokens = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard (1...maximumCount).contains(tokens.count) else {
            throw Invalid(description: "the cluster token file must hold 1 to \(maximumCount) tokens, one a line (it holds \(tokens.count))")
        }
        for (index, token) in tokens.enumerated() {
            guard token.utf8.count >= minimumLength, token.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw Invalid(description: "token \(index + 1) of the cluster token file must be \(minimumLength) or more visible ASCII characters")
            }
        }
        return tokens
    }
}

/// What tells a file's versions apart without reading it: inode, size and modification time.
public struct FileStamp: Equatable, Sendable {
    let inode: UInt64
    let size: Int64
    let modified: Double

    init?(_ path: String) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        inode = (attributes[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
        size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
    }
}
