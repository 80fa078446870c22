import Atomics
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The access log's writer: event loops hand it whole buffers of lines (`LoopAccessLog`), and a
/// thread of its own writes them to the file or stdout. The queue is bounded: when the writer
/// cannot keep up (a slow disk), a loop's buffer is dropped and its lines counted, and no event
/// loop ever waits. `reopen()` (on SIGHUP) opens the path again, for logrotate.
public final class AccessLog: Sendable {
    public enum Destination: Sendable, Equatable {
        case stdout
        case file(String)
    }

    public let destination: Destination
    private let queue = NIOLockedValueBox(Queue())
    private let wake = DispatchSemaphore(value: 0)
    private let written = ManagedAtomic(0)
    private let dropped = ManagedAtomic(0)
    private let failed = ManagedAtomic(0)
    private let logger: Logger

    private struct Queue {
        var buffers: [(ByteBuffer, lines: Int)] = []
        var reopen = false
        var stopped = false
        /// Who waits for the writer to finish (`stop`).
        var finished: [CheckedContinuation<Void, Never>] = []
        var done = false
    }

    /// Buffers waiting for the writer, at most: with 32 KiB each, 2 MiB of lines.
    static let maxQueued = 64

    /// Opens the destination (a file is created if missing, appended to); throws when it cannot.
    public init(_ destination: Destination, logger: Logger) throws {
        self.destination = destination
        self.logger = logger
        let descriptor = try Self.open(destination)
        let thread = Thread { [self] in run(descriptor) }
        thread.name = "gatehouse-access-log"
        thread.start()
    }

    /// A loop's buffer, handed over whole; dropped (and counted) when the queue is full.
    func submit(_ buffer: ByteBuffer, lines: Int) {
        let taken = queue.withLockedValue { queue in
            guard queue.buffers.count < Self.maxQueued, !queue.stopped else { return false }
            queue.buffers.append((buffer, lines))
            return true
        }
        if taken { wake.signal() } else { dropped.wrappingIncrement(by: lines, ordering: .relaxed) }
    }

    /// Opens the path again before the next write (after logrotate moved the file).
    public func reopen() {
        queue.withLockedValue { $0.reopen = true }
        wake.signal()
    }

    /// Writes what is queued, then stops the thread; returns once it has.
    public func stop() async {
        await withCheckedContinuation { continuation in
            let done = queue.withLockedValue { queue in
                queue.stopped = true
                if !queue.done { queue.finished.append(continuation) }
                return queue.done
            }
            if done { continuation.resume() } else { wake.signal() }
        }
    }

    public var prometheusText: String {
        var out = PrometheusText()
        out.family("gatehouse_access_log_lines_total", "counter", "Access log lines written.")
        out.sample("gatehouse_access_log_lines_total", written.load(ordering: .relaxed))
        out.family("gatehouse_access_log_dropped_lines_total", "counter", "Access log lines dropped because the writer could not keep up.")
        out.sample("gatehouse_access_log_dropped_lines_total", dropped.load(ordering: .relaxed))
        out.family("gatehouse_access_log_write_errors_total", "counter", "Writes or reopens of the access log that failed.")
        out.sample("gatehouse_access_log_write_errors_total", failed.load(ordering: .relaxed))
        return out.text
    }

    private func run(_ first: CInt) {
        var descriptor = first
        // Whether the last write failed: a run of failures is logged once.
        var failing = false
        while true {
            wake.wait()
            let (buffers, reopen, stopped) = queue.withLockedValue { queue in
                defer {
                    queue.buffers.removeAll(keepingCapacity: true)
                    queue.reopen = false
                }
                return (queue.buffers, queue.reopen, queue.stopped)
            }
            if reopen, case .file = destination {
                do {
                    let fresh = try Self.open(destination)
                    close(descriptor)
                    descriptor = fresh
                } catch {
                    failed.wrappingIncrement(ordering: .relaxed)
                    logger.warning("\(error); lines go on to the file opened before", metadata: ["signal": "SIGHUP"])
                }
            }
            for (buffer, lines) in buffers {
                if let error = Self.writeAll(buffer, to: descriptor) {
                    failed.wrappingIncrement(ordering: .relaxed)
                    dropped.wrappingIncrement(by: lines, ordering: .relaxed)
                    if !failing { logger.warning("writing the access log failed; lines are dropped until a write succeeds", metadata: ["error": "\(error)"]) }
                    failing = true
                } else {
                    written.wrappingIncrement(by: lines, ordering: .relaxed)
                    failing = false
                }
            }
            if stopped {
                if case .file = destination { close(descriptor) }
                let waiting = queue.withLockedValue { queue in
                    queue.done = true
                    defer { queue.finished = [] }
                    return queue.finished
                }
                for continuation in waiting { continuation.resume() }
                return
            }
        }
    }

    /// Nil when every byte was written, else why not.
    private static func writeAll(_ buffer: ByteBuffer, to descriptor: CInt) -> String? {
        buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let count = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    return String(cString: strerror(errno))
                }
                offset += count
            }
            return nil
        }
    }

    struct CannotOpen: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "cannot open the access log \(path): \(reason)" }
    }

    private static func open(_ destination: Destination) throws -> CInt {
        switch destination {
        case .stdout: return STDOUT_FILENO
        case .file(let path):
            let descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard descriptor >= 0 else { throw CannotOpen(path: path, reason: String(cString: strerror(errno))) }
            return descriptor
        }
    }
}

/// One event loop's access log buffer: lines are written into it on the loop, and it goes to the
/// writer whole at 32 KiB, or within a second of its first line. Used on its loop only.
final class LoopAccessLog {
    private let log: AccessLog
    private let loop: any EventLoop
    private var buffer: ByteBuffer
    private var lines = 0
    private var clock = WallClockText()
    private var flushScheduled = false
    static let handOverBytes = 32 * 1024

    init(_ log: AccessLog, loop: any EventLoop) {
        self.log = log
        self.loop = loop
        buffer = ByteBufferAllocator().buffer(capacity: Self.handOverBytes + 1024)
    }

    func append(_ record: AccessRecord, _ figures: AccessLogLine.Figures) {
        AccessLogLine.write(record, figures, into: &buffer, clock: &clock)
        lines += 1
        if buffer.readableBytes >= Self.handOverBytes { return handOver() }
        if !flushScheduled {
            flushScheduled = true
            loop.assumeIsolated().scheduleTask(in: .seconds(1)) { [self] in
                flushScheduled = false
                handOver()
            }
        }
    }

    func handOver() {
        guard lines > 0 else { return }
        log.submit(buffer, lines: lines)
        buffer = ByteBufferAllocator().buffer(capacity: Self.handOverBytes + 1024)
        lines = 0
    }
}
