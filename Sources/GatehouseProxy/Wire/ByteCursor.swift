import NIOCore

/// Copies pieces one after another into memory reserved for them, for the heads built on every
/// request: each `ByteBuffer.write…` call checks capacity, uniqueness and exclusive access on its
/// own, and a head is dozens of pieces. Written through a cursor, it is one check per head.
struct ByteCursor {
    private let out: UnsafeMutableRawBufferPointer
    private(set) var count = 0

    init(_ out: UnsafeMutableRawBufferPointer) {
        self.out = out
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        // Unsafe buffers are not bounds-checked in release builds: a wrong reservation must
        // stop here rather than write past it.
        precondition(bytes.count <= out.count - count, "ByteCursor: more bytes than reserved")
        UnsafeMutableRawBufferPointer(rebasing: out[count..<count + bytes.count]).copyMemory(from: bytes)
        count += bytes.count
    }

    /// Lets `body` fill the next `count` bytes.
    mutating func appendWithUnsafeBytes(count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void) {
        precondition(count <= out.count - self.count, "ByteCursor: more bytes than reserved")
        body(UnsafeMutableRawBufferPointer(rebasing: out[self.count..<self.count + count]))
        self.count += count
    }

    mutating func append(_ byte: UInt8) {
        precondition(count < out.count, "ByteCursor: more bytes than reserved")
        out[count] = byte
        count += 1
    }

    mutating func append(_ literal: StaticString) {
        append(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    mutating func append(contentsOf string: String) {
        var string = string
        string.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    mutating func append(contentsOf string: Substring) {
        var string = string
        string.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }
}

extension ByteBuffer {
    /// Writes up to `reserving` bytes through a cursor, in one access to the buffer.
    mutating func writeWithCursor(reserving: Int, _ body: (inout ByteCursor) -> Void) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: reserving) { out in
            var cursor = ByteCursor(out)
            body(&cursor)
            return cursor.count
        }
    }
}
