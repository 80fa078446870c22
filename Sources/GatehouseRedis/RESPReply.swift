import NIOCore

/// A Redis (RESP2) reply.
enum RESPReply: Equatable {
    case simple(String)
    case error(String)
    case integer(Int)
    case bulk([UInt8]?)
    case array([RESPReply]?)

    struct Malformed: Error {}

    /// Reads one whole reply from `buffer`, or returns nil (consuming nothing) when it has not
    /// all arrived yet.
    static func read(from buffer: inout ByteBuffer) throws(Malformed) -> RESPReply? {
        var copy = buffer
        guard let reply = try parse(&copy) else { return nil }
        buffer = copy
        return reply
    }

    private static func parse(_ buffer: inout ByteBuffer) throws(Malformed) -> RESPReply? {
        guard let type = buffer.readInteger(as: UInt8.self), let line = readLine(&buffer) else { return nil }
        switch type {
        case UInt8(ascii: "+"): return .simple(line)
        case UInt8(ascii: "-"): return .error(line)
        case UInt8(ascii: ":"):
            guard let value = Int(line) else { throw Malformed() }
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = Int(line), length >= -1, length <= 512 * 1024 * 1024 else { throw Malformed() }
            if length == -1 { return .bulk(nil) }
            guard buffer.readableBytes >= length + 2, let bytes = buffer.readBytes(length: length) else { return nil }
            guard buffer.readBytes(length: 2) == [13, 10] else { throw Malformed() }
            return .bulk(bytes)
        case UInt8(ascii: "*"):
            guard let count = Int(line), count >= -1, count <= 1024 * 1024 else { throw Malformed() }
            if count == -1 { return .array(nil) }
            var items: [RESPReply] = []
            for _ in 0..<count {
                guard let item = try parse(&buffer) else { return nil }
                items.append(item)
            }
            return .array(items)
        default:
            throw Malformed()
        }
    }

    private static func readLine(_ buffer: inout ByteBuffer) -> String? {
        guard let end = buffer.readableBytesView.firstIndex(of: 13),
            end + 1 < buffer.writerIndex, buffer.getInteger(at: end + 1, as: UInt8.self) == 10
        else { return nil }
        let line = buffer.readString(length: end - buffer.readerIndex)
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }

    /// Appends a command as an array of bulk strings.
    static func writeCommand(_ arguments: [String], to buffer: inout ByteBuffer) {
        buffer.writeString("*\(arguments.count)\r\n")
        for argument in arguments {
            buffer.writeString("$\(argument.utf8.count)\r\n")
            buffer.writeString(argument)
            buffer.writeString("\r\n")
        }
    }
}
