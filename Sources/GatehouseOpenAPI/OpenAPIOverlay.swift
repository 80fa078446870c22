import GatehouseModel

/// `--overlay FILE`: `x-gatehouse` for a spec its team cannot edit. A document-level
/// `x-gatehouse` goes over the spec's, and each entry of `operations` selects operations by
/// `operationId`, by `tag`, or by `method` and `path`, and lays its `x-gatehouse` over theirs
/// (after the spec's own, in file order). A selector that selects nothing is an error: it is a
/// typo or a stale entry.
///
/// ```yaml
/// x-gatehouse: { policies: { limit: { type: rate-limit, config: { limit: 100, window: 1m } } } }
/// operations:
///   - operationId: getPetById
///     x-gatehouse: { policies: { limit: { type: rate-limit, config: { limit: 10, window: 1m } } } }
///   - { tag: store, x-gatehouse: { tags: [store] } }
///   - { method: delete, path: "/pet/{petId}", x-gatehouse: { policies: { limit: false } } }
/// ```
struct OpenAPIOverlay: Sendable {
    struct Entry: Sendable {
        enum Selector: Sendable, Equatable {
            case operationID(String)
            case tag(String)
            case operation(method: String, path: String)
        }

        var selector: Selector
        var layer: GatehouseExtension
        var pointer: JSONPointer

        func selects(_ operation: SpecOperation) -> Bool {
            switch selector {
            case .operationID(let id): operation.operationID == id
            case .tag(let tag): operation.tags.contains(tag)
            case .operation(let method, let path): operation.method == method && operation.path == path
            }
        }
    }

    var file: String
    var document = GatehouseExtension()
    var entries: [Entry] = []

    static func read(_ value: JSONValue, file: String) -> (OpenAPIOverlay, [ImportProblem]) {
        var overlay = OpenAPIOverlay(file: file)
        var problems: [ImportProblem] = []
        func problem(_ at: JSONPointer, _ message: String) { problems.append(ImportProblem(.error, file: file, pointer: at, message)) }
        guard case .object(let fields) = value else {
            problem(.root, "an overlay is an object with x-gatehouse and operations")
            return (overlay, problems)
        }
        for key in fields.keys.sorted() where !["x-gatehouse", "operations"].contains(key) {
            problem(JSONPointer(tokens: [key]), "unknown key; an overlay has x-gatehouse and operations")
        }
        if let layer = fields["x-gatehouse"] {
            let (read, found) = GatehouseExtension.read(layer, file: file, at: JSONPointer(tokens: ["x-gatehouse"]), level: .document)
            overlay.document = read
            problems += found
        }
        guard let operations = fields["operations"] else { return (overlay, problems) }
        guard case .array(let items) = operations else {
            problem(JSONPointer(tokens: ["operations"]), "expected a list")
            return (overlay, problems)
        }
        for (index, item) in items.enumerated() {
            let at = JSONPointer(tokens: ["operations", String(index)])
            guard case .object(let entry) = item else {
                problem(at, "expected an object: a selector (operationId, tag, or method and path) and x-gatehouse")
                continue
            }
            for key in entry.keys.sorted() where !["operationId", "tag", "method", "path", "x-gatehouse"].contains(key) {
                problem(at.appending(key), "unknown key; an entry has operationId, tag, or method and path, and x-gatehouse")
            }
            let selector: Entry.Selector
            switch (entry["operationId"]?.stringValue, entry["tag"]?.stringValue, entry["method"]?.stringValue, entry["path"]?.stringValue) {
            case (let id?, nil, nil, nil): selector = .operationID(id)
            case (nil, let tag?, nil, nil): selector = .tag(tag)
            case (nil, nil, let method?, let path?): selector = .operation(method: method.uppercased(), path: path)
            default:
                problem(at, "select operations by exactly one of: operationId, tag, or method and path (strings)")
                continue
            }
            guard let layer = entry["x-gatehouse"] else {
                problem(at.appending("x-gatehouse"), "is required: what to set for the selected operations")
                continue
            }
            let (read, found) = GatehouseExtension.read(layer, file: file, at: at.appending("x-gatehouse"), level: .operation)
            problems += found
            overlay.entries.append(Entry(selector: selector, layer: read, pointer: at))
        }
        return (overlay, problems)
    }
}
