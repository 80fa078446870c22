import GatehouseModel

/// The operations of a transform on one kind of field (headers, or query parameters), read
/// from a normalized config, in the order they run: remove, rename, set, add (as Kong's
/// transformers). Immutable.
struct HeaderOperations: Sendable {
    let remove: [String]
    let rename: [(from: String, to: String)]
    let set: [(name: String, value: TransformValue)]
    let add: [(name: String, value: TransformValue)]
    /// Fields never copied as they came: removed, renamed from, or given a value by `set`.
    let replaced: [String]

    init(_ config: JSONValue, target: String) {
        remove = config["remove"]?[target]?.arrayValue?.compactMap(\.stringValue) ?? []
        func pairs(_ operation: String) -> [(String, String)] {
            (config[operation]?[target]?.objectValue ?? [:]).compactMap { key, value in value.stringValue.map { (key, $0) } }.sorted { $0.0 < $1.0 }
        }
        rename = pairs("rename").map { (from: $0.0, to: $0.1) }
        set = pairs("set").map { (name: $0.0, value: TransformValue($0.1)) }
        add = pairs("add").map { (name: $0.0, value: TransformValue($0.1)) }
        var replaced = remove + rename.map(\.from) + set.map(\.name)
        replaced = Array(Set(replaced)).sorted()
        self.replaced = replaced
    }

    var isEmpty: Bool { remove.isEmpty && rename.isEmpty && set.isEmpty && add.isEmpty }

    /// A rename whose source was removed first has nothing to rename.
    func renames(_ from: String) -> Bool { !remove.contains(from) }
}
