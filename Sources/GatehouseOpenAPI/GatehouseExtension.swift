import GatehouseModel

/// An `x-gatehouse` object of a spec (document, path item or operation) or of an overlay: what
/// Gatehouse should do beyond what OpenAPI says. Layers merge down document → path →
/// operation: later scalars win, tags add up, timeouts merge by field, policies by name.
struct GatehouseExtension: Sendable {
    enum Level: Sendable {
        case document, pathItem, operation
    }

    var name: String?
    var upstream: String?
    var stripPath: Bool?
    /// Whether operations get a `request-validation` policy (over `--validate`).
    var validate: Bool?
    /// `connect`, `read`, `write` → duration text, each checked.
    var timeouts: [String: String] = [:]
    /// Where the timeouts were last set (an upstream the import does not define cannot take them).
    var timeoutsPointer: (file: String, pointer: JSONPointer)?
    var tags: [String] = []
    /// Name → the policy, or nil where `false` removed it.
    var policies: [String: PolicyDeclaration?] = [:]

    static let keys = ["name", "upstream", "strip_path", "validate", "timeouts", "tags", "policies"]

    /// Reads the object at `pointer`; every unknown key, wrong type or invalid config is a
    /// problem with its own pointer, and all of them are collected.
    static func read(_ value: JSONValue, file: String, at pointer: JSONPointer, level: Level) -> (GatehouseExtension, [ImportProblem]) {
        var result = GatehouseExtension()
        var problems: [ImportProblem] = []
        func problem(_ at: JSONPointer, _ message: String) { problems.append(ImportProblem(.error, file: file, pointer: at, message)) }
        guard case .object(let fields) = value else {
            problem(pointer, "expected an object, got \(value.typeName)")
            return (result, problems)
        }
        for key in fields.keys.sorted() where !keys.contains(key) {
            problem(pointer.appending(key), "unknown key; x-gatehouse has \(keys.joined(separator: ", "))")
        }
        if let value = fields["name"] {
            if level == .pathItem {
                problem(pointer.appending("name"), "a path item holds several operations; set name on an operation")
            } else if case .string(let name) = value, EntityName.isValid(name) {
                result.name = name
            } else {
                problem(pointer.appending("name"), "must be a name: 1 to 128 of a-z 0-9 . _ - starting with a letter or digit")
            }
        }
        if let value = fields["upstream"] {
            if case .string(let name) = value, EntityName.isValid(name) {
                result.upstream = name
            } else {
                problem(pointer.appending("upstream"), "must be the name of an upstream")
            }
        }
        if let value = fields["strip_path"] {
            if case .bool(let strip) = value { result.stripPath = strip } else { problem(pointer.appending("strip_path"), "expected a boolean") }
        }
        if let value = fields["validate"] {
            if case .bool(let validate) = value { result.validate = validate } else { problem(pointer.appending("validate"), "expected a boolean") }
        }
        if let value = fields["timeouts"] {
            if case .object(let timeouts) = value {
                for key in timeouts.keys.sorted() {
                    let at = pointer.appending("timeouts").appending(key)
                    guard ["connect", "read", "write"].contains(key) else {
                        problem(at, "unknown key; timeouts has connect, read, write")
                        continue
                    }
                    guard case .string(let text) = timeouts[key]!, let duration = Duration(configText: text), duration > .zero else {
                        problem(at, "must be a duration greater than zero, such as 250ms, 10s or 1m")
                        continue
                    }
                    result.timeouts[key] = text
                }
                result.timeoutsPointer = (file, pointer.appending("timeouts"))
            } else {
                problem(pointer.appending("timeouts"), "expected an object with connect, read, write")
            }
        }
        if let value = fields["tags"] {
            let at = pointer.appending("tags")
            if case .array(let items) = value, items.allSatisfy({ $0.stringValue != nil }) {
                let tags = items.compactMap(\.stringValue)
                do {
                    result.tags = try EntityName.normalizedTags(tags, field: "tags")
                } catch {
                    problem(pointer.appending(field: error.field ?? "tags"), error.message)
                }
            } else {
                problem(at, "expected a list of tags")
            }
        }
        if let value = fields["policies"] {
            let at = pointer.appending("policies")
            if case .object(let entries) = value {
                for name in entries.keys.sorted() {
                    let entryPointer = at.appending(name)
                    guard EntityName.isValid(name) else {
                        problem(entryPointer, "'\(name)' is not a policy name: use 1 to 128 of a-z 0-9 . _ - starting with a letter or digit")
                        continue
                    }
                    if entries[name] == .bool(false) {
                        result.policies[name] = .some(nil)
                        continue
                    }
                    switch PolicyDeclaration.read(entries[name]!, file: file, at: entryPointer) {
                    case .success(let declaration): result.policies[name] = declaration
                    case .failure(let failure): problems.append(failure)
                    }
                }
            } else {
                problem(at, "expected a map from a policy name to {type, config} (or false)")
            }
        }
        return (result, problems)
    }

    /// Whether the layer sets nothing.
    var isEmpty: Bool {
        name == nil && upstream == nil && stripPath == nil && validate == nil && timeouts.isEmpty && tags.isEmpty && policies.isEmpty
    }

    /// `self` with `layer` on top of it.
    func merged(with layer: GatehouseExtension) -> GatehouseExtension {
        var result = self
        result.name = layer.name ?? name
        result.upstream = layer.upstream ?? upstream
        result.stripPath = layer.stripPath ?? stripPath
        result.validate = layer.validate ?? validate
        result.timeouts.merge(layer.timeouts) { _, new in new }
        result.timeoutsPointer = layer.timeoutsPointer ?? timeoutsPointer
        result.tags = Array(Set(tags + layer.tags)).sorted()
        result.policies.merge(layer.policies) { _, new in new }
        return result
    }
}
