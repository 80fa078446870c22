/// The DNS wire format (RFC 1035, AAAA from RFC 3596, SRV from RFC 2782), as far as a client
/// asking for addresses and services needs it: one question out, the answer and additional
/// records back. Parsing is bounded: compression pointers may only point backwards, so a hostile
/// answer cannot loop.
public struct DNSMessage: Sendable, Equatable {
    public enum RecordType: UInt16, Sendable {
        case a = 1
        case cname = 5
        case soa = 6
        case aaaa = 28
        case srv = 33
    }

    public enum RecordData: Sendable, Hashable {
        case address(String)
        case alias(String)
        case service(priority: UInt16, weight: UInt16, port: UInt16, target: String)
        case other
    }

    public struct Record: Sendable, Equatable {
        public var name: String
        public var type: UInt16
        public var ttl: UInt32
        public var data: RecordData
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    public static let nameError: UInt8 = 3

    public var id: UInt16
    public var truncated: Bool
    public var responseCode: UInt8
    public var questionName: String
    public var questionType: UInt16
    public var answers: [Record]
    public var additional: [Record]

    /// A recursive query for `name` (no trailing dot needed).
    public static func query(id: UInt16, name: String, type: RecordType) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            bytes.append(UInt8(label.utf8.count))
            bytes.append(contentsOf: label.utf8)
        }
        bytes.append(0)
        bytes.append(contentsOf: [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF), 0, 1])
        return bytes
    }

    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> DNSMessage {
        var reader = Reader(bytes: bytes)
        let id = try reader.u16()
        let flags = try reader.u16()
        guard flags & 0x8000 != 0 else { throw ParseError(description: "not a response") }
        let questions = try reader.u16()
        let answerCount = try reader.u16()
        let authorityCount = try reader.u16()
        let additionalCount = try reader.u16()
        guard questions == 1 else { throw ParseError(description: "expected one question, got \(questions)") }
        let questionName = try reader.name()
        let questionType = try reader.u16()
        _ = try reader.u16()
        var message = DNSMessage(
            id: id, truncated: flags & 0x0200 != 0, responseCode: UInt8(flags & 0x000F), questionName: questionName,
            questionType: questionType, answers: [], additional: []
        )
        // A truncated message may end anywhere: what it holds is not used.
        if message.truncated { return message }
        for _ in 0..<answerCount { message.answers.append(try reader.record()) }
        for _ in 0..<authorityCount { _ = try reader.record() }
        for _ in 0..<additionalCount { message.additional.append(try reader.record()) }
        return message
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u8() throws(ParseError) -> UInt8 {
            guard offset < bytes.count else { throw ParseError(description: "message ends early") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func u16() throws(ParseError) -> UInt16 { UInt16(try u8()) << 8 | UInt16(try u8()) }

        mutating func u32() throws(ParseError) -> UInt32 { UInt32(try u16()) << 16 | UInt32(try u16()) }

        /// A possibly compressed name, lowercase, without the trailing dot.
        mutating func name() throws(ParseError) -> String {
            var labels: [String] = []
            var position = offset
            var jumped = false
            var length = 0
            while true {
                guard position < bytes.count else { throw ParseError(description: "name runs past the message") }
                let size = Int(bytes[position])
                if size & 0xC0 == 0xC0 {
                    guard position + 1 < bytes.count else { throw ParseError(description: "name runs past the message") }
                    let target = (size & 0x3F) << 8 | Int(bytes[position + 1])
                    // Only backwards, and only before where this pointer sits: no loops.
                    guard target < position else { throw ParseError(description: "compression pointer does not point back") }
                    if !jumped { offset = position + 2 }
                    jumped = true
                    position = target
                    continue
                }
                guard size & 0xC0 == 0 else { throw ParseError(description: "unknown label type") }
                if size == 0 {
                    if !jumped { offset = position + 1 }
                    return labels.joined(separator: ".")
                }
                guard position + 1 + size <= bytes.count else { throw ParseError(description: "label runs past the message") }
                length += size + 1
                guard length <= 255 else { throw ParseError(description: "name longer than 255 bytes") }
                labels.append(String(decoding: bytes[(position + 1)..<(position + 1 + size)], as: UTF8.self).lowercased())
                position += 1 + size
            }
        }

        mutating func record() throws(ParseError) -> Record {
            let name = try name()
            let type = try u16()
            _ = try u16()
            let ttl = try u32()
            let length = Int(try u16())
            let end = offset + length
            guard end <= bytes.count else { throw ParseError(description: "record data runs past the message") }
            let data: RecordData
            switch RecordType(rawValue: type) {
            case .a:
                guard length == 4 else { throw ParseError(description: "A record of \(length) bytes") }
                data = .address(bytes[offset..<end].map(String.init).joined(separator: "."))
            case .aaaa:
                guard length == 16 else { throw ParseError(description: "AAAA record of \(length) bytes") }
                data = .address(Self.ipv6(bytes[offset..<end]))
            case .cname:
                data = .alias(try self.name())
            case .srv:
                let priority = try u16()
                let weight = try u16()
                let port = try u16()
                data = .service(priority: priority, weight: weight, port: port, target: try self.name())
            case .soa, nil:
                data = .other
            }
            guard offset <= end else { throw ParseError(description: "record data longer than its length") }
            offset = end
            // A server's TTL over 2^31 - 1 is read as zero (RFC 2181 §8).
            return Record(name: name, type: type, ttl: ttl > 0x7FFF_FFFF ? 0 : ttl, data: data)
        }

        /// RFC 5952 text: lowercase hex, the longest run of zero groups (two or more) as `::`.
        static func ipv6(_ bytes: ArraySlice<UInt8>) -> String {
            let groups = stride(from: bytes.startIndex, to: bytes.endIndex, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
            var best: Range<Int>?
            var index = 0
            while index < 8 {
                guard groups[index] == 0 else {
                    index += 1
                    continue
                }
                var end = index
                while end < 8, groups[end] == 0 { end += 1 }
                if end - index >= 2, end - index > (best?.count ?? 0) { best = index..<end }
                index = end
            }
            let hex = groups.map { String($0, radix: 16) }
            guard let best else { return hex.joined(separator: ":") }
            return hex[..<best.lowerBound].joined(separator: ":") + "::" + hex[best.upperBound...].joined(separator: ":")
        }
    }
}
