/// Header field names, lowercase, that a request's fields are matched against ignoring ASCII
/// case. It runs for every field of every request, so it compares the name's bytes in place,
/// and a name whose length no member has is turned away by one bit test.
struct FieldNameSet: Sendable {
    let names: [String]
    /// The members' bytes, one after another, and where each lies.
    private let bytes: [UInt8]
    private let spans: [Range<Int>]
    /// Bit n: a member is n bytes long (bit 63: 63 or more).
    private let lengths: UInt64

    init(_ names: [String]) {
        self.names = names.map { $0.lowercased() }
        var bytes: [UInt8] = []
        var spans: [Range<Int>] = []
        var lengths: UInt64 = 0
        for name in self.names {
            spans.append(bytes.count..<(bytes.count + name.utf8.count))
            bytes += name.utf8
            lengths |= 1 << min(UInt64(name.utf8.count), 63)
        }
        self.bytes = bytes
        self.spans = spans
        self.lengths = lengths
    }

    static func + (set: FieldNameSet, more: [String]) -> FieldNameSet { FieldNameSet(set.names + more) }

    func contains(_ name: String) -> Bool {
        name.utf8.withContiguousStorageIfAvailable { contains($0) } ?? Array(name.utf8).withUnsafeBufferPointer { contains($0) }
    }

    func contains(_ name: Substring.UTF8View) -> Bool {
        name.withContiguousStorageIfAvailable { contains($0) } ?? Array(name).withUnsafeBufferPointer { contains($0) }
    }

    func contains(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = name.count
        guard lengths & (1 << min(UInt64(count), 63)) != 0 else { return false }
        return bytes.withUnsafeBufferPointer { bytes in
            spans.contains { span in
                guard span.count == count else { return false }
                var offset = 0
                while offset < count {
                    // Members are lowercase: only A–Z are folded.
                    guard UpstreamResponseHead.lowered(name[offset]) == bytes[span.lowerBound + offset] else { return false }
                    offset += 1
                }
                return true
            }
        }
    }
}
