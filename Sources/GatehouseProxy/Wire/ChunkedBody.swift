import GatehouseModel

/// Where a chunked body (RFC 9112 §7.1) has got, as a value: fed the bytes as they arrive, it
/// says how many belong to the body and where its data is, so the body can be passed on as it
/// came (framing included) or without its framing. Strict about CRLF: a lenient reading of
/// chunk framing is a classic way to smuggle one response inside another.
struct ChunkedBody: Equatable {
    enum State: Equatable {
        case size
        case sizeExtension
        case sizeLF
        case data(remaining: Int)
        case dataCR
        case dataLF
        case trailerLineStart
        case trailerLine
        case trailerLF
        case endLF
        case done
    }

    static let maxLineBytes = 4096
    static let maxTrailerBytes = 16 * 1024

    private(set) var state = State.size
    private var size = 0
    private var digits = 0
    private var lineBytes = 0
    private var trailerBytes = 0

    var isDone: Bool { state == .done }

    /// Reads `bytes` up to the end of the body. Returns how many it took (fewer than given only
    /// when the body ended); `data` is told each run of chunk data among them.
    mutating func advance(_ bytes: UnsafeRawBufferPointer, data: (Range<Int>) -> Void) throws(UpstreamResponseError) -> Int {
        var index = 0
        while index < bytes.count {
            if case .data(let remaining) = state {
                let run = min(remaining, bytes.count - index)
                data(index..<index + run)
                index += run
                state = remaining == run ? .dataCR : .data(remaining: remaining - run)
                continue
            }
            try step(bytes[index])
            index += 1
            if state == .done { return index }
        }
        return index
    }

    private mutating func step(_ byte: UInt8) throws(UpstreamResponseError) {
        switch state {
        case .size:
            if let value = PercentDecoding.hexValue(byte) {
                guard digits < 15 else { throw .malformed("chunk size too large") }
                size = size << 4 | Int(value)
                digits += 1
            } else if digits > 0, byte == UInt8(ascii: ";") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                lineBytes = digits
                state = .sizeExtension
            } else if digits > 0, byte == UInt8(ascii: "\r") {
                state = .sizeLF
            } else {
                throw .malformed("invalid chunk size")
            }
        case .sizeExtension:
            lineBytes += 1
            guard lineBytes <= Self.maxLineBytes else { throw .malformed("chunk extension too long") }
            if byte == UInt8(ascii: "\r") {
                state = .sizeLF
            } else if !Self.isLineByte(byte) {
                throw .malformed("invalid chunk extension")
            }
        case .sizeLF:
            guard byte == UInt8(ascii: "\n") else { throw .malformed("chunk size line not ended by CRLF") }
            state = size == 0 ? .trailerLineStart : .data(remaining: size)
            size = 0
            digits = 0
        case .data:
            preconditionFailure("data runs are taken whole by advance")
        case .dataCR:
            guard byte == UInt8(ascii: "\r") else { throw .malformed("chunk data not followed by CRLF") }
            state = .dataLF
        case .dataLF:
            guard byte == UInt8(ascii: "\n") else { throw .malformed("chunk data not followed by CRLF") }
            state = .size
        case .trailerLineStart, .trailerLine:
            trailerBytes += 1
            guard trailerBytes <= Self.maxTrailerBytes else { throw .malformed("trailer section too large") }
            if byte == UInt8(ascii: "\r") {
                state = state == .trailerLineStart ? .endLF : .trailerLF
            } else if Self.isLineByte(byte) {
                state = .trailerLine
            } else {
                throw .malformed("invalid trailer field")
            }
        case .trailerLF:
            guard byte == UInt8(ascii: "\n") else { throw .malformed("trailer line not ended by CRLF") }
            state = .trailerLineStart
        case .endLF:
            guard byte == UInt8(ascii: "\n") else { throw .malformed("chunked body not ended by CRLF") }
            state = .done
        case .done:
            preconditionFailure("nothing follows the end of a chunked body")
        }
    }

    /// What a chunk extension or trailer line may hold: what a field value may.
    private static func isLineByte(_ byte: UInt8) -> Bool { UpstreamResponseHead.isFieldValueByte(byte) }
}
