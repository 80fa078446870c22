/// Rebuilds one version's document from a checkpoint (a document stored whole) and the deltas of
/// the versions after it, without writing out every version in between: the document is held as
/// a list of pieces of the stored blobs, each delta rearranges pieces, and bytes are copied once,
/// at the end. So reading a version a thousand deltas after its checkpoint costs about as much as
/// reading the checkpoint. A value; not shared.
struct DeltaChain {
    private struct Piece {
        var blob: Int
        var start: Int
        var count: Int
    }

    private var blobs: [[UInt8]]
    private var pieces: [Piece]
    /// `ends[i]` is where piece `i` ends in the document, for finding a byte offset's piece.
    private var ends: [Int]

    init(checkpoint: [UInt8]) {
        blobs = [checkpoint]
        pieces = checkpoint.isEmpty ? [] : [Piece(blob: 0, start: 0, count: checkpoint.count)]
        ends = checkpoint.isEmpty ? [] : [checkpoint.count]
    }

    var count: Int { ends.last ?? 0 }

    /// Moves the document on by one version.
    mutating func apply(_ delta: HistoryDelta) throws(StoreError) {
        let operations = try delta.operations(baseCount: count)
        blobs.append(delta.encoded)
        let added = blobs.count - 1
        var next: [Piece] = []
        next.reserveCapacity(pieces.count + operations.count)
        for operation in operations {
            switch operation {
            case .copy(let range):
                var offset = range.lowerBound
                var index = firstPiece(endingAfter: offset)
                while offset < range.upperBound {
                    let piece = pieces[index]
                    let pieceStart = ends[index] - piece.count
                    let skip = offset - pieceStart
                    let take = min(piece.count - skip, range.upperBound - offset)
                    Self.append(Piece(blob: piece.blob, start: piece.start + skip, count: take), to: &next)
                    offset += take
                    index += 1
                }
            case .add(let range):
                Self.append(Piece(blob: added, start: range.lowerBound, count: range.count), to: &next)
            }
        }
        pieces = next
        var end = 0
        ends = pieces.map { piece in
            end += piece.count
            return end
        }
    }

    /// The document's bytes.
    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        for piece in pieces {
            out.append(contentsOf: blobs[piece.blob][piece.start..<piece.start + piece.count])
        }
        return out
    }

    private func firstPiece(endingAfter offset: Int) -> Int {
        var low = 0
        var high = ends.count
        while low < high {
            let middle = (low + high) / 2
            if ends[middle] > offset { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// Joins a piece to the one before when it continues it, so the list stays as short as the
    /// number of changes.
    private static func append(_ piece: Piece, to pieces: inout [Piece]) {
        guard piece.count > 0 else { return }
        if let last = pieces.last, last.blob == piece.blob, last.start + last.count == piece.start {
            pieces[pieces.count - 1].count += piece.count
        } else {
            pieces.append(piece)
        }
    }
}
