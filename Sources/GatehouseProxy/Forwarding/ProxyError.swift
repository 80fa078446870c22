import NIOCore

/// The JSON body of responses the gateway makes itself:
/// `{"error":{"code":"no_route","message":"…"}}`, the same shape as the admin API's errors.
enum ProxyError {
    /// - Parameter fields: more string fields of the error object (`"parameter"`, `"pointer"`),
    ///   so a client can tell what was refused without reading the message.
    static func body(code: String, message: String, fields: [(String, String)] = [], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 64 + message.utf8.count)
        buffer.writeStaticString(#"{"error":{"code":""#)
        writeEscaped(code, to: &buffer)
        buffer.writeStaticString(#"","message":""#)
        writeEscaped(message, to: &buffer)
        for (name, value) in fields {
            buffer.writeStaticString(#"",""#)
            writeEscaped(name, to: &buffer)
            buffer.writeStaticString(#"":""#)
            writeEscaped(value, to: &buffer)
        }
        buffer.writeStaticString("\"}}\n")
        return buffer
    }

    private static func writeEscaped(_ text: String, to buffer: inout ByteBuffer) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                buffer.writeInteger(UInt8(ascii: "\\"))
                buffer.writeInteger(byte)
            case 0..<0x20:
                buffer.writeString("\\u00")
                buffer.writeString(String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16))
            default:
                buffer.writeInteger(byte)
            }
        }
    }
}
