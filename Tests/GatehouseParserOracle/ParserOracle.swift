import GatehouseHTTP1
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// Gatehouse's request parser beside llhttp (SwiftNIO's `HTTPRequestDecoder`), on the same bytes:
/// the differential check of the parser issue, shared by the test suite and the fuzzer
/// (`bench/fuzz-parser.sh`).
public enum ParserOracle {
    /// One request as a parser gave it: its head, then its body's bytes, then whether it ended.
    public struct Message: Equatable, Sendable, CustomStringConvertible {
        public var method: String
        public var target: String
        public var version: String
        public var fields: [[String]]
        public var body: [UInt8] = []
        public var trailers: [[String]] = []
        public var ended = false

        public var description: String {
            "\(method) \(target) \(version) \(fields) body \(body.count) bytes\(ended ? ", ended, trailers \(trailers)" : "")"
        }

        /// This message is where `other` was when its parser stopped: the same head, and as much
        /// of the body as it had read.
        func isPrefix(of other: Message) -> Bool {
            method == other.method && target == other.target && version == other.version && fields == other.fields
                && other.body.starts(with: body) && (!ended || self == other)
        }
    }

    public struct Outcome: Sendable, CustomStringConvertible {
        public var messages: [Message] = []
        /// Why the parser refused the bytes, if it did.
        public var refusal: String?
        /// Gatehouse's reason, when it refused.
        public var reason: RequestParseError?

        public var description: String { "\(messages.map(\.description)) refusal: \(refusal ?? "none")" }
    }

    public enum Verdict: Equatable, Sendable {
        /// Both accept and agree, or both refuse the same request.
        case agree
        /// Gatehouse refuses, for a listed reason, a request llhttp accepts.
        case stricter(RequestParseError.Reason)
        case disagree(String)
    }

    /// Limits far above what the inputs reach: the differential is about syntax, and each
    /// parser's own limits are tested on their own.
    static let headLimit = 1 << 20

    public static func llhttp(_ input: [UInt8]) -> Outcome {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = headLimit
        limits.maxHeaderFieldSize = headLimit
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        var outcome = Outcome()
        do {
            try channel.pipeline.syncOperations.addHandler(
                ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, limitConfiguration: limits)))
            try channel.writeInbound(ByteBuffer(bytes: input))
        } catch {
            outcome.refusal = "\(error)"
        }
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
            switch part {
            case .head(let head):
                outcome.messages.append(
                    Message(
                        method: head.method.rawValue, target: head.uri, version: "\(head.version)",
                        fields: head.headers.map { [$0.name, trimmed($0.value)] }))
            case .body(let buffer):
                outcome.messages[outcome.messages.count - 1].body += buffer.readableBytesView
            case .end(let trailers):
                outcome.messages[outcome.messages.count - 1].trailers = trailers?.map { [$0.name, trimmed($0.value)] } ?? []
                outcome.messages[outcome.messages.count - 1].ended = true
            }
        }
        return outcome
    }

    /// llhttp keeps the whitespace after a value, which is not part of it (RFC 9110 §5.5);
    /// Gatehouse's values end without it.
    static func trimmed(_ value: String) -> String {
        String(value.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    /// Gatehouse's parser given `input` in pieces that end at `cuts` (offsets into it), as reads
    /// would bring it: bytes not yet taken stay, and the next piece is appended.
    public static func gatehouse(_ input: [UInt8], cuts: [Int] = []) -> Outcome {
        var parser = RequestParser(limits: RequestParser.Limits(maxHeadBytes: headLimit, maxFields: 100_000))
        var outcome = Outcome()
        var buffer = ByteBuffer()
        var start = 0
        for end in cuts.filter({ $0 > 0 && $0 < input.count }).sorted() + [input.count] where end >= start {
            buffer.writeBytes(input[start..<end])
            start = end
            do {
                while let part = try parser.next(&buffer) {
                    switch part {
                    case .head(let head):
                        outcome.messages.append(
                            Message(
                                method: head.method.rawValue, target: head.target, version: "\(head.version)",
                                fields: head.fields.map { [$0.name, $0.value] }))
                    case .body(let slice):
                        outcome.messages[outcome.messages.count - 1].body += slice.readableBytesView
                    case .end(let trailers):
                        outcome.messages[outcome.messages.count - 1].trailers = trailers.map { [$0.name, $0.value] }
                        outcome.messages[outcome.messages.count - 1].ended = true
                    }
                }
                if parser.isUpgraded { break }
            } catch {
                outcome.refusal = error.description
                outcome.reason = error
                break
            }
        }
        return outcome
    }

    /// The verdict on one input: Gatehouse whole, and in pieces, beside llhttp.
    public static func compare(_ input: [UInt8]) -> Verdict {
        let reference = llhttp(input)
        let ours = gatehouse(input)
        // Where the reads split the bytes must not change what is parsed.
        let cuts = stride(from: 0, to: input.count, by: max(1, input.count / 5)).map { ($0 * 7 + Int(input.first ?? 0)) % max(1, input.count) }
        let split = gatehouse(input, cuts: cuts + [1, input.count - 1])
        // (Where a read ends can change which refusal comes first, not whether one comes.)
        guard split.messages == ours.messages, (split.reason == nil) == (ours.reason == nil) else {
            return .disagree("read in pieces \(cuts): \(split), whole: \(ours)")
        }
        return verdict(reference, ours)
    }

    static func verdict(_ reference: Outcome, _ ours: Outcome) -> Verdict {
        guard let error = ours.reason else {
            if reference.refusal != nil { return .disagree("llhttp refuses (\(reference)) what Gatehouse accepts (\(ours))") }
            return reference.messages == ours.messages ? .agree : .disagree("llhttp: \(reference)\nGatehouse: \(ours)")
        }
        // Gatehouse refused: what it read before must be what llhttp read.
        guard ours.messages.count <= reference.messages.count,
            zip(ours.messages, reference.messages).allSatisfy({ $0.isPrefix(of: $1) }),
            ours.messages.dropLast().elementsEqual(reference.messages.prefix(max(0, ours.messages.count - 1)))
        else {
            return .disagree("before its refusal (\(error)) Gatehouse read \(ours.messages), llhttp \(reference)")
        }
        // Both refuse the same request (llhttp had not finished it either).
        let refusedMessage = ours.messages.last.map { $0.ended ? ours.messages.count : ours.messages.count - 1 } ?? 0
        if reference.refusal != nil, reference.messages.count <= refusedMessage + 1,
            !(reference.messages.count == refusedMessage + 1 && reference.messages[refusedMessage].ended)
        {
            return .agree
        }
        return error.isStricterThanLLHTTP ? .stricter(error.reason) : .disagree("Gatehouse refuses (\(error)) what llhttp accepts: \(reference)")
    }
}
