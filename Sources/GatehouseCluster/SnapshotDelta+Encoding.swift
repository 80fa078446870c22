import GatehouseModel

/// The form a delta travels in, after its frame's header line: a format byte, the number of
/// changes, then each change: its kind (0 upstream, 1 route, 2 consumer, 3 policy), its name's
/// length and bytes, 0 for a deletion or 1 and the entity's length and canonical JSON. Numbers
/// are LEB128 varints. Reading checks everything: kinds, names, order, lengths, the end.
extension SnapshotDelta {
    static let format: UInt8 = 1
    /// Entity names are tokens far shorter than this; a longer one is refused unread.
    static let maxNameBytes = 1024

    public func encoded() -> [UInt8] {
        var out: [UInt8] = [Self.format]
        out.reserveCapacity(byteCount + 8)
        Self.append(changes.count, to: &out)
        for change in changes {
            out.append(UInt8(Self.kindIndex(change.kind)))
            Self.append(change.name.utf8.count, to: &out)
            out += change.name.utf8
            if let entity = change.entity {
                out.append(1)
                Self.append(entity.count, to: &out)
                out += entity
            } else {
                out.append(0)
            }
        }
        return out
    }

    public init(decoding bytes: ArraySlice<UInt8>) throws(ClusterFrame.Malformed) {
        var reader = Reader(bytes: bytes)
        guard try reader.byte() == Self.format else { throw ClusterFrame.Malformed(description: "a delta has an unknown format") }
        let count = try reader.number()
        // Each change takes at least four bytes: a count beyond that is a lie, refused before reserving.
        guard count <= reader.remaining / 4 else { throw ClusterFrame.Malformed(description: "a delta announces more changes than it holds") }
        var changes: [Change] = []
        changes.reserveCapacity(count)
        for _ in 0..<count {
            let kindByte = Int(try reader.byte())
            guard kindByte < Self.kinds.count else { throw ClusterFrame.Malformed(description: "a delta names an unknown entity kind") }
            let nameCount = try reader.number()
            guard (1...Self.maxNameBytes).contains(nameCount) else {
                throw ClusterFrame.Malformed(description: "a delta holds an entity name out of range")
            }
            guard let name = String(validating: try reader.bytes(nameCount), as: UTF8.self) else {
                throw ClusterFrame.Malformed(description: "a delta holds an entity name that is not UTF-8")
            }
            let change: Change
            switch try reader.byte() {
            case 0: change = Change(kind: Self.kinds[kindByte], name: name, entity: nil)
            case 1: change = Change(kind: Self.kinds[kindByte], name: name, entity: Array(try reader.bytes(try reader.number())))
            default: throw ClusterFrame.Malformed(description: "a delta holds an unknown operation")
            }
            if let last = changes.last, !Self.precedes(last, change) {
                throw ClusterFrame.Malformed(description: "a delta's changes are out of order or name an entity twice")
            }
            changes.append(change)
        }
        guard reader.remaining == 0 else { throw ClusterFrame.Malformed(description: "a delta has bytes after its last change") }
        self.init(ordered: changes)
    }

    private static func append(_ number: Int, to out: inout [UInt8]) {
        var value = UInt(number)
        while value >= 0x80 {
            out.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }

    private struct Reader {
        let bytes: ArraySlice<UInt8>
        var position: Int

        init(bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            position = bytes.startIndex
        }

        var remaining: Int { bytes.endIndex - position }

        mutating func byte() throws(ClusterFrame.Malformed) -> UInt8 {
            guard position < bytes.endIndex else { throw ClusterFrame.Malformed(description: "a delta is cut short") }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func bytes(_ count: Int) throws(ClusterFrame.Malformed) -> ArraySlice<UInt8> {
            guard count <= remaining else { throw ClusterFrame.Malformed(description: "a delta is cut short") }
            defer { position += count }
            return bytes[position..<position + count]
        }

        mutating func number() throws(ClusterFrame.Malformed) -> Int {
            var value = 0
            var shift = 0
            while true {
                let byte = try byte()
                guard shift < 49 else { throw ClusterFrame.Malformed(description: "a delta holds a number out of range") }
                value |= Int(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }
    }
}
