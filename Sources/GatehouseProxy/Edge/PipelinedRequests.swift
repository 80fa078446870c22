import NIOCore
import NIOHTTP1

/// Request parts a client sent ahead (HTTP pipelining) while an earlier request is answered, in
/// order. Bounded: the client is read on while it holds less than `maxParts` parts and
/// `maxBodyBytes` of body, so a burst of small requests does not turn reading off and on (two
/// `epoll_ctl` calls) for each, and memory stays bounded whatever the client sends.
struct PipelinedRequests {
    static let maxParts = 64
    static let maxBodyBytes = 64 * 1024

    private var parts = CircularBuffer<HTTPServerRequestPart>()
    private var bodyBytes = 0

    var isEmpty: Bool { parts.isEmpty }
    var first: HTTPServerRequestPart? { parts.first }
    var isFull: Bool { parts.count >= Self.maxParts || bodyBytes >= Self.maxBodyBytes }

    mutating func append(_ part: HTTPServerRequestPart) {
        if case .body(let buffer) = part { bodyBytes += buffer.readableBytes }
        parts.append(part)
    }

    mutating func removeFirst() {
        if case .body(let buffer) = parts.removeFirst() { bodyBytes -= buffer.readableBytes }
    }

    mutating func removeAll() {
        parts.removeAll()
        bodyBytes = 0
    }
}
