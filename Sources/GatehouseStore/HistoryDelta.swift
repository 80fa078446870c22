import Foundation

/// How one version's canonical document differs from the version before it: byte ranges copied
/// from the older document and bytes added, in order. It is what a version costs in the history,
/// so a single-route change is a few hundred bytes whatever the size of the config. Pure value.
///
/// The documents are matched entity by entity (the elements of the document's top-level lists,
/// found by scanning the JSON, not by parsing it): an entity whose bytes did not change is copied,
/// wherever it moved. The result is exact for any two byte strings; the matching only decides how
/// small it is.
struct HistoryDelta: Sendable, Equatable {
    enum Operation: Sendable, Equatable {
        /// Bytes of the older document.
        case copy(Range<Int>)
        /// Bytes of `encoded`: the new bytes the delta carries.
        case add(Range<Int>)
    }

    /// The stored form: a format byte, then each operation (0, offset, count: a copy; 1, count,
    /// bytes: an addition), numbers as LEB128 varints.
    let encoded: [UInt8]

    static let format: UInt8 = 1

    init(encoded: [UInt8]) {
        self.encoded = encoded
    }

    /// The delta that turns `old` into `new`.
    init(from old: [UInt8], to new: [UInt8]) {
        let oldPieces = Self.pieces(of: old)
        let newPieces = Self.pieces(of: new)
        // Old pieces by a digest of their bytes, built at the first piece that is out of step.
        var firstAt: [Int: Int]?
        var writer = Writer()
        var next = 0  // the old piece expected next, when the two documents run in step
        for range in newPieces {
            let piece = new[range]
            if next < oldPieces.count, Self.same(old[oldPieces[next]], piece) {
                writer.copy(oldPieces[next])
                next += 1
                continue
            }
            if firstAt == nil {
                var index: [Int: Int] = [:]
                index.reserveCapacity(oldPieces.count)
                for (position, range) in oldPieces.enumerated().reversed() { index[Self.digest(old[range])] = position }
                firstAt = index
            }
            if let index = firstAt?[Self.digest(piece)], index > next, Self.same(old[oldPieces[index]], piece) {
                // Old pieces were left out (entities deleted or changed): skip to the match.
                writer.copy(oldPieces[index])
                next = index + 1
            } else {
                writer.add(piece)
            }
        }
        encoded = writer.finish()
    }

    /// The operations, checked against the stored form and against the older document's size.
    func operations(baseCount: Int) throws(StoreError) -> [Operation] {
        var reader = Reader(bytes: encoded)
        guard try reader.byte() == Self.format else { throw .damaged("a history delta has an unknown format") }
        var operations: [Operation] = []
        while !reader.atEnd {
            switch try reader.byte() {
            case 0:
                let offset = try reader.number()
                let count = try reader.number()
                guard offset <= baseCount, count <= baseCount - offset else { throw .damaged("a history delta copies beyond its base document") }
                operations.append(.copy(offset..<offset + count))
            case 1:
                let count = try reader.number()
                guard count <= encoded.count - reader.position else { throw .damaged("a history delta ends inside its added bytes") }
                operations.append(.add(reader.position..<reader.position + count))
                reader.position += count
            default:
                throw .damaged("a history delta holds an unknown operation")
            }
        }
        return operations
    }

    /// Rebuilds the newer document from `base`, the older one.
    func apply(to base: [UInt8]) throws(StoreError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(base.count + encoded.count)
        for operation in try operations(baseCount: base.count) {
            switch operation {
            case .copy(let range): out.append(contentsOf: base[range])
            case .add(let range): out.append(contentsOf: encoded[range])
            }
        }
        return out
    }

    private static func digest(_ bytes: ArraySlice<UInt8>) -> Int {
        var hasher = Hasher()
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        return hasher.finalize()
    }

    private static func same(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        guard !a.isEmpty else { return true }
        return a.withUnsafeBytes { a in b.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 } }
    }

    /// Where the document is cut for matching: before each element of a list that is a value of
    /// the top-level object (each entity), so a piece is one entity and what follows it up to the
    /// next one. Strings are skipped whole, so brackets inside them do not count.
    static func pieces(of bytes: [UInt8]) -> [Range<Int>] {
        var starts = [0]
        var depth = 0
        var inString = false
        var escaped = false
        var expectingElement = false
        for (index, byte) in bytes.enumerated() {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            if depth == 2, expectingElement, byte != UInt8(ascii: "]"), index > 0 {
                starts.append(index)
            }
            expectingElement = false
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectingElement = depth == 2 && byte == UInt8(ascii: "[")
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: ","): expectingElement = depth == 2
            default: break
            }
        }
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(starts.count)
        for (index, start) in starts.enumerated() {
            let end = index + 1 < starts.count ? starts[index + 1] : bytes.count
            if start < end { ranges.append(start..<end) }
        }
        return ranges
    }

    private struct Writer {
        var out: [UInt8] = [HistoryDelta.format]
        var pendingCopy: Range<Int>?
        var pendingAdd: [UInt8] = []

        mutating func copy(_ range: Range<Int>) {
            flushAdd()
            if let pending = pendingCopy, pending.upperBound == range.lowerBound {
                pendingCopy = pending.lowerBound..<range.upperBound
            } else {
                flushCopy()
                pendingCopy = range
            }
        }

        mutating func add(_ bytes: ArraySlice<UInt8>) {
            flushCopy()
            pendingAdd.append(contentsOf: bytes)
        }

        mutating func finish() -> [UInt8] {
            flushCopy()
            flushAdd()
            return out
        }

        private mutating func flushCopy() {
            guard let range = pendingCopy else { return }
            out.append(0)
            append(range.lowerBound)
            append(range.count)
            pendingCopy = nil
        }

        private mutating func flushAdd() {
            guard !pendingAdd.isEmpty else { return }
            out.append(1)
            append(pendingAdd.count)
            out.append(contentsOf: pendingAdd)
            pendingAdd.removeAll(keepingCapacity: true)
        }

        private mutating func append(_ number: Int) {
            var value = UInt(number)
            while value >= 0x80 {
                out.append(UInt8(value & 0x7F) | 0x80)
                value >>= 7
            }
            out.append(UInt8(value))
        }
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position == bytes.count }

        mutating func byte() throws(StoreError) -> UInt8 {
            guard position < bytes.count else { throw .damaged("a history delta is cut short") }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func number() throws(StoreError) -> Int {
            var value = 0
            var shift = 0
            while true {
                let byte = try byte()
                guard shift < 56 else { throw .damaged("a history delta holds a number out of range") }
                value |= Int(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }
    }
}
