import NIOCore

/// Where one field's name and value lie in the bytes of its head.
@usableFromInline
struct FieldSpan: Sendable {
    @usableFromInline let nameStart: Int32
    @usableFromInline let nameEnd: Int32
    @usableFromInline let valueStart: Int32
    @usableFromInline let valueEnd: Int32
}

/// A request's header (or trailer) fields, read in place: names and values stay ranges of the
/// bytes they arrived in, and become `String`s only when a caller asks for one. Names are matched
/// ignoring ASCII case against a lowercase name.
public struct RequestFields: Sendable, RandomAccessCollection {
    /// One field of the head, read without copying.
    public struct Field: Sendable {
        let bytes: ByteBuffer
        let span: FieldSpan

        /// The name as the client spelled it.
        public var name: String { string(span.nameStart, span.nameEnd) }
        /// The value, without the whitespace around it.
        public var value: String { string(span.valueStart, span.valueEnd) }
        public var nameLength: Int { Int(span.nameEnd - span.nameStart) }
        public var valueLength: Int { Int(span.valueEnd - span.valueStart) }

        /// Whether the name is `lowercased`, ignoring ASCII case.
        public func hasName(_ lowercased: String) -> Bool {
            RequestFields.matches(bytes, span, lowercased)
        }

        /// The name's and value's bytes, valid for the call only.
        public func withBytes<T>(_ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> T) rethrows -> T {
            try bytes.withUnsafeReadableBytes { raw in
                try body(
                    UnsafeRawBufferPointer(rebasing: raw[Int(span.nameStart)..<Int(span.nameEnd)]),
                    UnsafeRawBufferPointer(rebasing: raw[Int(span.valueStart)..<Int(span.valueEnd)]))
            }
        }

        private func string(_ start: Int32, _ end: Int32) -> String {
            bytes.getString(at: bytes.readerIndex + Int(start), length: Int(end - start)) ?? ""
        }
    }

    /// The head's bytes (readable from its first byte) and each field's place in them.
    let bytes: ByteBuffer
    let spans: [FieldSpan]

    init(bytes: ByteBuffer, spans: [FieldSpan]) {
        self.bytes = bytes
        self.spans = spans
    }

    /// No fields (a chunked body without trailers).
    public init() {
        bytes = ByteBuffer()
        spans = []
    }

    /// Fields that did not come from a client's bytes (`explain`'s, a test's), laid out as a
    /// head would hold them.
    public init(_ pairs: some Sequence<(String, String)>) {
        var bytes = ByteBuffer()
        var spans: [FieldSpan] = []
        for (name, value) in pairs {
            let nameStart = Int32(bytes.writerIndex)
            bytes.writeString(name)
            let nameEnd = Int32(bytes.writerIndex)
            bytes.writeString(": ")
            let valueStart = Int32(bytes.writerIndex)
            bytes.writeString(value)
            spans.append(FieldSpan(nameStart: nameStart, nameEnd: nameEnd, valueStart: valueStart, valueEnd: Int32(bytes.writerIndex)))
            bytes.writeString("\r\n")
        }
        self.init(bytes: bytes, spans: spans)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { spans.count }
    public subscript(position: Int) -> Field { Field(bytes: bytes, span: spans[position]) }

    /// The first value of the fields named `name` (lowercase).
    public func first(name: String) -> String? {
        firstIndex(name: name).map { self[$0].value }
    }

    /// The position of the first field named `name` (lowercase), found without a `Field` (and
    /// its retain of the head's buffer) per field looked at.
    public func firstIndex(name: String) -> Int? {
        var first: Int?
        forEachIndex(name) { index in
            first = index
            return false
        }
        return first
    }

    public func contains(name: String) -> Bool {
        firstIndex(name: name) != nil
    }

    /// Every value of the fields named `name` (lowercase), in order.
    public subscript(name name: String) -> [String] {
        var values: [String] = []
        forEachIndex(named: name) { values.append(self[$0].value) }
        return values
    }

    /// Calls `body` with each field named `name` (lowercase), in order.
    public func forEach(named name: String, _ body: (Field) -> Void) {
        forEachIndex(named: name) { body(self[$0]) }
    }

    /// The comma-separated elements of every field named `name` (lowercase), trimmed, empty
    /// elements left out (RFC 9110 §5.6.1).
    public subscript(elements name: String) -> [Substring] {
        var elements: [Substring] = []
        forEachIndex(named: name) { index in
            for element in self[index].value.split(separator: ",") {
                let trimmed = element.drop { $0 == " " || $0 == "\t" }
                let end = trimmed.lastIndex { $0 != " " && $0 != "\t" }
                if let end { elements.append(trimmed[...end]) }
            }
        }
        return elements
    }

    /// Calls `body` with the position of each field named `name` (lowercase) while it returns true.
    private func forEachIndex(_ name: String, _ body: (Int) -> Bool) {
        var name = name
        name.withUTF8 { wanted in
            bytes.withUnsafeReadableBytes { raw in
                for index in spans.indices where Self.matches(raw, spans[index], wanted) {
                    guard body(index) else { return }
                }
            }
        }
    }

    private func forEachIndex(named name: String, _ body: (Int) -> Void) {
        forEachIndex(name) { (index: Int) -> Bool in
            body(index)
            return true
        }
    }

    static func matches(_ bytes: ByteBuffer, _ span: FieldSpan, _ lowercased: String) -> Bool {
        var name = lowercased
        return name.withUTF8 { wanted in bytes.withUnsafeReadableBytes { matches($0, span, wanted) } }
    }

    /// Whether the name at `span` is `wanted` (lowercase), ignoring ASCII case.
    private static func matches(_ raw: UnsafeRawBufferPointer, _ span: FieldSpan, _ wanted: UnsafeBufferPointer<UInt8>) -> Bool {
        let length = Int(span.nameEnd - span.nameStart)
        guard wanted.count == length else { return false }
        let start = Int(span.nameStart)
        for offset in 0..<length {
            var byte = raw[start + offset]
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte |= 0x20 }
            guard byte == wanted[offset] else { return false }
        }
        return true
    }
}

extension RequestFields: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }
}
