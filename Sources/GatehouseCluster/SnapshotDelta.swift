import GatehouseModel

/// How one snapshot's document differs from an earlier one's, entity by entity: each entity
/// created or changed, as the canonical JSON it has in the newer document, and each one deleted,
/// by kind and name; sorted by kind (in the document's order) and then name, each entity once.
/// What a data plane holding the earlier document needs to make the newer one (`PatchableDocument`);
/// the result is checked against the newer snapshot's signed hash, so a delta cannot make a
/// document the control plane did not sign. Pure value.
public struct SnapshotDelta: Sendable, Equatable {
    public struct Change: Sendable, Equatable {
        /// Upstream, route, consumer or policy (credentials travel inside their consumer).
        public let kind: EntityKind
        public let name: String
        /// The entity's canonical JSON in the newer document; nil when it was deleted.
        public let entity: [UInt8]?

        public init(kind: EntityKind, name: String, entity: [UInt8]?) {
            self.kind = kind
            self.name = name
            self.entity = entity
        }
    }

    public let changes: [Change]

    /// The kinds a delta carries, in the order of the document and of a delta's changes.
    static let kinds: [EntityKind] = [.upstream, .route, .consumer, .policy]

    /// Changes already in order (kind, then name, each entity once); `decode` checks it of what it reads.
    init(ordered changes: [Change]) {
        self.changes = changes
    }

    /// What changed from `old` to `new`, two snapshot documents (lists sorted by name, names
    /// unique). Entities are compared as values, walking both lists in step; only the changed ones
    /// are serialized.
    public init(from old: ConfigDocument, to new: ConfigDocument) {
        var changes: [Change] = []
        Self.compare(old.upstreams, new.upstreams, into: &changes)
        Self.compare(old.routes, new.routes, into: &changes)
        Self.compare(old.consumers, new.consumers, into: &changes)
        Self.compare(old.policies, new.policies, into: &changes)
        self.changes = changes
    }

    public var isEmpty: Bool { changes.isEmpty }

    /// About what the delta weighs on the wire, uncompressed: to compare with the whole document.
    public var byteCount: Int { changes.reduce(1) { $0 + 8 + $1.name.utf8.count + ($1.entity?.count ?? 0) } }

    /// This delta, then `next` (a delta from the document this one makes): for each entity the
    /// later change wins. A deletion stays one even when the earlier document lacked the entity;
    /// applying it then changes nothing.
    public func followed(by next: SnapshotDelta) -> SnapshotDelta {
        var merged: [Change] = []
        merged.reserveCapacity(changes.count + next.changes.count)
        var (i, j) = (0, 0)
        while i < changes.count || j < next.changes.count {
            if j == next.changes.count || (i < changes.count && Self.precedes(changes[i], next.changes[j])) {
                merged.append(changes[i])
                i += 1
            } else if i == changes.count || Self.precedes(next.changes[j], changes[i]) {
                merged.append(next.changes[j])
                j += 1
            } else {
                merged.append(next.changes[j])
                i += 1
                j += 1
            }
        }
        return SnapshotDelta(ordered: merged)
    }

    static func kindIndex(_ kind: EntityKind) -> Int { kinds.firstIndex(of: kind) ?? kinds.count }

    static func precedes(_ a: Change, _ b: Change) -> Bool {
        let (ka, kb) = (kindIndex(a.kind), kindIndex(b.kind))
        return ka != kb ? ka < kb : a.name < b.name
    }

    private static func compare<T: ConfigEntity>(_ old: [T], _ new: [T], into changes: inout [Change]) {
        var (i, j) = (0, 0)
        while i < old.count || j < new.count {
            if j == new.count || (i < old.count && old[i].name < new[j].name) {
                changes.append(Change(kind: T.kind, name: old[i].name, entity: nil))
                i += 1
            } else if i == old.count || new[j].name < old[i].name {
                changes.append(Change(kind: T.kind, name: new[j].name, entity: new[j].json().canonicalBytes))
                j += 1
            } else {
                if old[i] != new[j] { changes.append(Change(kind: T.kind, name: new[j].name, entity: new[j].json().canonicalBytes)) }
                i += 1
                j += 1
            }
        }
    }
}
