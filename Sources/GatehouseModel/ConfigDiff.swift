/// What changed between two documents, entity by entity, matched by kind and name.
public struct ConfigDiff: Sendable, Equatable {
    public enum Action: String, Sendable { case create, update, delete }

    public struct Change: Sendable, Equatable {
        public var kind: EntityKind
        public var name: String
        public var action: Action
        /// Top-level fields whose value changed (updates only).
        public var fields: [String]
    }

    public var changes: [Change]

    public init(from old: ConfigDocument, to new: ConfigDocument) {
        changes = []
        compare(\.upstreams, old, new)
        compare(\.routes, old, new)
        compare(\.consumers, old, new)
        compare(\.policies, old, new)
        compare(\.certificates, old, new)
    }

    public var isEmpty: Bool { changes.isEmpty }

    /// Compares entity values first; only changed ones are turned into JSON to name their fields.
    private mutating func compare<T: ConfigEntity & Equatable>(_ path: KeyPath<ConfigDocument, [T]>, _ old: ConfigDocument, _ new: ConfigDocument) {
        let before = Dictionary(old[keyPath: path].map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(new[keyPath: path].map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for name in Set(before.keys).union(after.keys).sorted() {
            switch (before[name], after[name]) {
            case (nil, _?): changes.append(Change(kind: T.kind, name: name, action: .create, fields: []))
            case (_?, nil): changes.append(Change(kind: T.kind, name: name, action: .delete, fields: []))
            case (let a?, let b?) where a != b:
                let fieldsA = Self.shown(a)
                let fieldsB = Self.shown(b)
                let changed = Set(fieldsA.keys).union(fieldsB.keys).filter { fieldsA[$0] != fieldsB[$0] }.sorted()
                // A certificate whose key was sealed again (a new nonce) shows no change.
                if changed.isEmpty { continue }
                changes.append(Change(kind: T.kind, name: name, action: .update, fields: changed))
            default: break
            }
        }
    }

    /// The fields a change names: a certificate's as answers show them (a new key is a new
    /// `key_ref`, and the sealed form is named nowhere).
    private static func shown<T: ConfigEntity>(_ entity: T) -> [String: JSONValue] {
        ((entity as? TLSCertificate)?.publicJSON() ?? entity.json()).objectValue ?? [:]
    }

    public func json() -> JSONValue {
        .array(
            changes.map { change in
                [
                    "kind": .string(change.kind.singular),
                    "name": .string(change.name),
                    "action": .string(change.action.rawValue),
                    "fields": .array(change.fields.map(JSONValue.string)),
                ]
            })
    }

    /// A one-line summary for the version history, such as `create route recipes`.
    public var summary: String {
        guard !changes.isEmpty else { return "no change" }
        let parts = changes.prefix(3).map { "\($0.action.rawValue) \($0.kind.singular) \($0.name)" }
        return parts.joined(separator: ", ") + (changes.count > 3 ? " and \(changes.count - 3) more" : "")
    }
}
