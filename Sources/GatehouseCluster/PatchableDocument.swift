import GatehouseModel

/// A snapshot's document kept so that deltas can be applied to it: its entities, its canonical
/// bytes and where each entity sits in them. Applying a delta reads only the entities it carries
/// and copies the unchanged bytes in runs, so its cost follows the change, not the config, but for
/// copying bytes and references. What it makes is served only once `snapshot()` has checked its
/// bytes against the signed hash. A value; the data plane's feed owns it.
public struct PatchableDocument: Sendable {
    public struct Refused: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) {
            self.description = description
        }
    }

    public let version: Int
    /// The hash the control plane signed for this version; `snapshot()` checks the bytes against it.
    public let hash: String
    let document: ConfigDocument
    let bytes: [UInt8]
    let layout: DocumentLayout

    /// A snapshot received whole (its bytes were checked against its hash when it was read).
    public init(_ snapshot: Snapshot) throws(Refused) {
        guard let layout = DocumentLayout(scanning: snapshot.canonicalJSON) else {
            throw Refused(description: "snapshot \(snapshot.version): its document's lists cannot be found in its bytes")
        }
        let counts = [
            snapshot.document.upstreams.count, snapshot.document.routes.count, snapshot.document.consumers.count, snapshot.document.policies.count,
        ]
        guard layout.lists.map(\.elements.count) == counts else {
            throw Refused(description: "snapshot \(snapshot.version): its bytes hold other entities than its document")
        }
        self.init(version: snapshot.version, hash: snapshot.hash, document: snapshot.document, bytes: snapshot.canonicalJSON, layout: layout)
    }

    init(version: Int, hash: String, document: ConfigDocument, bytes: [UInt8], layout: DocumentLayout) {
        self.version = version
        self.hash = hash
        self.document = document
        self.bytes = bytes
        self.layout = layout
    }

    /// The document `delta` makes of this one, as version `version` whose hash is to be `hash`;
    /// throws when an entity it carries cannot be read or does not bear its name.
    public func applying(_ delta: SnapshotDelta, version: Int, hash: String) throws(Refused) -> PatchableDocument {
        var document = self.document
        var pieces: [[Piece]] = layout.lists.map { list in [Piece.old(0..<list.elements.count)] }
        var start = delta.changes.startIndex
        for (kind, _) in SnapshotDelta.kinds.enumerated() {
            var end = start
            while end < delta.changes.endIndex, SnapshotDelta.kindIndex(delta.changes[end].kind) == kind { end += 1 }
            guard start < end else { continue }
            let changes = delta.changes[start..<end]
            switch kind {
            case 0: (document.upstreams, pieces[kind]) = try Self.patch(document.upstreams, changes)
            case 1: (document.routes, pieces[kind]) = try Self.patch(document.routes, changes)
            case 2: (document.consumers, pieces[kind]) = try Self.patch(document.consumers, changes)
            default: (document.policies, pieces[kind]) = try Self.patch(document.policies, changes)
            }
            start = end
        }
        guard start == delta.changes.endIndex else { throw Refused(description: "a delta holds an entity of a kind it cannot change") }
        let (bytes, layout) = splice(pieces)
        return PatchableDocument(version: version, hash: hash, document: document, bytes: bytes, layout: layout)
    }

    /// The snapshot, once its bytes match the signed hash.
    public func snapshot() throws(Refused) -> Snapshot {
        do {
            return try Snapshot(version: version, document: document, canonicalJSON: bytes, checkingHash: hash)
        } catch {
            throw Refused(description: "\(error)")
        }
    }

    /// A list's new elements: runs of the old ones, and entities a delta carries.
    enum Piece {
        case old(Range<Int>)
        case new([UInt8])
    }

    /// Walks the old list and the changes of its kind in step (both sorted by name).
    private static func patch<T: ConfigEntity>(_ old: [T], _ changes: ArraySlice<SnapshotDelta.Change>) throws(Refused) -> ([T], [Piece]) {
        var entities: [T] = []
        entities.reserveCapacity(old.count + changes.count)
        var pieces: [Piece] = []
        var index = 0
        var runStart = 0
        func keepRun(to end: Int) {
            if runStart < end {
                entities.append(contentsOf: old[runStart..<end])
                pieces.append(.old(runStart..<end))
            }
        }
        for change in changes {
            var low = index
            var high = old.count
            while low < high {
                let middle = (low + high) / 2
                if old[middle].name < change.name { low = middle + 1 } else { high = middle }
            }
            keepRun(to: low)
            let exists = low < old.count && old[low].name == change.name
            index = exists ? low + 1 : low
            runStart = index
            guard let bytes = change.entity else { continue }
            let entity: T
            do {
                entity = try T.read(try JSONValue.parse(bytes), id: nil, path: "\(T.kind.plural)['\(change.name.prefix(64))']")
            } catch {
                throw Refused(description: "the delta's \(T.kind.singular) '\(change.name.prefix(64))' cannot be read: \(error)")
            }
            guard entity.name == change.name else {
                throw Refused(description: "the delta's \(T.kind.singular) '\(change.name.prefix(64))' is named '\(entity.name.prefix(64))' inside")
            }
            entities.append(entity)
            pieces.append(.new(bytes))
        }
        keepRun(to: old.count)
        return (entities, pieces)
    }

    /// The new bytes: the old document's, with each list's contents made again from its pieces;
    /// the old elements are copied in runs, commas and all.
    private func splice(_ pieces: [[Piece]]) -> ([UInt8], DocumentLayout) {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + pieces.joined().reduce(0) { if case .new(let b) = $1 { $0 + b.count } else { $0 } })
        // Lists in the order their bytes come (the document's keys are sorted).
        let order = layout.lists.indices.sorted { layout.lists[$0].contents.lowerBound < layout.lists[$1].contents.lowerBound }
        var copied = 0
        var made = Array(repeating: DocumentLayout.List(contents: 0..<0, elements: []), count: layout.lists.count)
        for kind in order {
            let list = layout.lists[kind]
            out += bytes[copied..<list.contents.lowerBound]
            let contentsStart = out.count
            if case .old(let run)? = pieces[kind].first, pieces[kind].count == 1, run == 0..<list.elements.count {
                // Unchanged: the same bytes, the same offsets.
                out += bytes[list.contents]
                made[kind] = DocumentLayout.List(contents: contentsStart..<out.count, elements: list.elements)
            } else {
                var elements: [Range<Int>] = []
                elements.reserveCapacity(list.elements.count + pieces[kind].count)
                for piece in pieces[kind] {
                    if out.count > contentsStart { out.append(UInt8(ascii: ",")) }
                    switch piece {
                    case .old(let run):
                        let first = list.contents.lowerBound + list.elements[run.lowerBound].lowerBound
                        let last = list.contents.lowerBound + list.elements[run.upperBound - 1].upperBound
                        let shift = out.count - contentsStart - list.elements[run.lowerBound].lowerBound
                        out += bytes[first..<last]
                        for element in list.elements[run] { elements.append(element.lowerBound + shift..<element.upperBound + shift) }
                    case .new(let entity):
                        let offset = out.count - contentsStart
                        out += entity
                        elements.append(offset..<offset + entity.count)
                    }
                }
                made[kind] = DocumentLayout.List(contents: contentsStart..<out.count, elements: elements)
            }
            copied = list.contents.upperBound
        }
        out += bytes[copied...]
        return (out, DocumentLayout(lists: made))
    }
}
