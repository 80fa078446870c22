import NIOCore
import Testing

@testable import GatehouseRedis

@Suite struct RESPReplyTests {
    @Test func repliesAreReadWholeOrNotAtAll() throws {
        let wire = Array("*2\r\n:12\r\n$5\r\nhello\r\n-ERR nope\r\n".utf8)
        for split in 0..<wire.count {
            var buffer = ByteBuffer(bytes: wire[..<split])
            let early = try RESPReply.read(from: &buffer)
            if split < 20 { #expect(early == nil, "split \(split)") }
        }
        var buffer = ByteBuffer(bytes: wire)
        #expect(try RESPReply.read(from: &buffer) == .array([.integer(12), .bulk(Array("hello".utf8))]))
        #expect(try RESPReply.read(from: &buffer) == .error("ERR nope"))
        #expect(buffer.readableBytes == 0)
        var bad = ByteBuffer(string: "?what\r\n")
        #expect(throws: RESPReply.Malformed.self) { try RESPReply.read(from: &bad) }
    }

    @Test func commandsAreArraysOfBulkStrings() {
        var buffer = ByteBuffer()
        RESPReply.writeCommand(["SET", "kéy", ""], to: &buffer)
        #expect(String(buffer: buffer) == "*3\r\n$3\r\nSET\r\n$4\r\nkéy\r\n$0\r\n\r\n")
    }
}
