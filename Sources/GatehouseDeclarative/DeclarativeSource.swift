import Foundation
import GatehouseModel
import Yams

/// Declarative config files (YAML or JSON; one file, or a directory of them merged) read into
/// one config document, remembering which file and line each entity came from so every problem
/// can be reported with them. `${GATEHOUSE_…}` is replaced from the environment inside each
/// parsed string value (`VariableSubstitution`), never in the text; no other variable is read.
/// Every problem passes through the source's `Redaction`, so no secret is ever shown.
public struct DeclarativeSource: Sendable {
    /// A problem, located as precisely as the input allows.
    public struct Problem: Error, Sendable, CustomStringConvertible, Equatable {
        public var file: String
        public var line: Int?
        public var column: Int?
        public var entity: String?
        public var field: String?
        public var message: String

        init(file: String, line: Int? = nil, column: Int? = nil, entity: String? = nil, field: String? = nil, message: String) {
            self.file = file
            self.line = line
            self.column = column
            self.entity = entity
            self.field = field
            self.message = message
        }

        public var description: String {
            var text = file
            if let line { text += ":\(line)" }
            if line != nil, let column { text += ":\(column)" }
            if let entity { text += ": \(entity)" }
            if let field { text += ": \(field)" }
            return text + ": " + message
        }
    }

    /// One entity as written, with where it was written.
    public struct Entry: Sendable {
        public var kind: EntityKind
        public var name: String
        public var file: String
        public var line: Int?
        public var value: JSONValue

        var label: String { "\(kind.singular) '\(name)'" }
    }

    public private(set) var entries: [Entry] = []
    /// The secrets and substituted values of every file read, kept out of every message.
    private var redaction = Redaction()

    static let kinds: [EntityKind] = [.upstream, .route, .consumer, .policy, .certificate]

    /// Reads every file under `paths` (directories: their `.yaml`, `.yml` and `.json` files, by
    /// name). Problems are collected, not thrown, so all of them can be shown at once.
    public static func load(_ paths: [String], environment: [String: String]) -> (DeclarativeSource, [Problem]) {
        var source = DeclarativeSource()
        var problems: [Problem] = []
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                problems.append(Problem(file: path, message: "no such file or directory"))
                continue
            }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.filter { [".yaml", ".yml", ".json"].contains(where: $0.hasSuffix) && !$0.hasPrefix(".") }.sorted().map {
                    path + "/" + $0
                }
            } else {
                files.append(path)
            }
        }
        if files.isEmpty, problems.isEmpty { problems.append(Problem(file: paths.joined(separator: " "), message: "no .yaml, .yml or .json file")) }
        var owners: [String: Entry] = [:]
        for file in files {
            do {
                let (read, refused, secrets) = try entries(of: file, environment: environment)
                source.redaction.merge(secrets)
                problems += refused
                for entry in read {
                    let key = "\(entry.kind.rawValue)/\(entry.name)"
                    if let first = owners[key] {
                        problems.append(
                            Problem(
                                file: file, line: entry.line, entity: entry.label,
                                message: "is also defined in \(first.file)\(first.line.map { ":\($0)" } ?? ""); a name may be defined once"))
                        continue
                    }
                    owners[key] = entry
                    source.entries.append(entry)
                }
            } catch let error as Problems {
                problems += error.all
            } catch let error as Problem {
                problems.append(error)
            } catch {
                problems.append(Problem(file: file, message: "cannot be read"))
            }
        }
        return (source, problems.map(source.redaction.apply))
    }

    /// The merged document, as the admin API's `PUT /config` takes it; with `tag`, every entity
    /// carries that tag too.
    public func documentJSON(addingTag tag: String? = nil) -> JSONValue {
        var fields: [String: JSONValue] = ["format_version": .int(ConfigDocument.formatVersion)]
        for kind in Self.kinds {
            let entries = entries.filter { $0.kind == kind }
            // Left out when there are none, as documents leave them out.
            if kind == .certificate, entries.isEmpty { continue }
            fields[kind.plural] = .array(
                entries.map { entry in
                    guard let tag, case .object(var object) = entry.value else { return entry.value }
                    let tags = object["tags"]?.arrayValue ?? []
                    if !tags.contains(.string(tag)) { object["tags"] = .array(tags + [.string(tag)]) }
                    return .object(object)
                })
        }
        return .object(fields)
    }

    /// How many entities of each kind, for a summary line.
    public struct Counts: CustomStringConvertible {
        public let byKind: [(EntityKind, Int)]

        public init(_ source: DeclarativeSource) {
            byKind = DeclarativeSource.kinds.map { kind in (kind, source.entries.filter { $0.kind == kind }.count) }
        }

        public var description: String { byKind.map { "\($0.1) \($0.1 == 1 ? $0.0.singular : $0.0.plural)" }.joined(separator: ", ") }
    }

    /// Reads every entity on its own (so each one's problems are reported), then, with
    /// `wholeDocument`, checks the document as a whole: references, route conflicts. Without it
    /// (a sync scoped to a tag, whose references may point at entities of other owners), the
    /// control plane checks the whole when it receives the part.
    public func check(wholeDocument: Bool = true) -> (document: ConfigDocument?, problems: [Problem]) {
        var problems: [Problem] = []
        for entry in entries {
            do {
                switch entry.kind {
                case .upstream: _ = try Upstream.read(entry.value)
                case .route: _ = try Route.read(entry.value)
                case .consumer: _ = try Consumer.read(entry.value)
                case .policy: _ = try Policy.read(entry.value)
                case .certificate: _ = try TLSCertificate.read(entry.value)
                case .credential: break
                }
            } catch {
                problems.append(
                    redaction.apply(Problem(file: entry.file, line: entry.line, entity: entry.label, field: error.field, message: error.message)))
            }
        }
        guard problems.isEmpty, wholeDocument else { return (nil, problems) }
        do {
            var document = try ConfigDocument.read(documentJSON())
            // Files name entities; ids are the control plane's to give.
            document.adoptIdentities(from: ConfigDocument(), newID: { UUID().uuidString.lowercased() })
            try document.validate()
            return (document, [])
        } catch {
            return (nil, [locate(code: error.code.rawValue, message: error.message, field: error.field)])
        }
    }

    /// A whole-document error (from here or from the admin API), put on the file and entity its
    /// field names (`routes[3].upstream`), or the entity its message names; no secret shown.
    public func locate(code: String?, message: String, field: String?) -> Problem {
        redaction.apply(place(message: message, field: field))
    }

    /// `text` (a message from elsewhere, such as the admin API) without the files' secrets, and
    /// with the values it quotes cut short.
    public func redacted(_ text: String) -> String {
        redaction.apply(text)
    }

    private func place(message: String, field: String?) -> Problem {
        let error = (message: message, field: field)
        if let field = error.field, let bracket = field.firstIndex(of: "["), let close = field.firstIndex(of: "]"),
            let kind = Self.kinds.first(where: { $0.plural == field[..<bracket] }), let index = Int(field[field.index(after: bracket)..<close])
        {
            let ofKind = entries.filter { $0.kind == kind }
            if ofKind.indices.contains(index) {
                let entry = ofKind[index]
                let rest = field[field.index(after: close)...].drop { $0 == "." }
                return Problem(
                    file: entry.file, line: entry.line, entity: entry.label, field: rest.isEmpty ? nil : String(rest), message: error.message)
            }
        }
        // Messages of whole-document checks name their entities ("route 'x': no upstream named 'y'").
        if let entry = entries.first(where: { error.message.hasPrefix($0.label) || error.message.contains("'\($0.name)'") }) {
            let message = error.message.hasPrefix(entry.label + ": ") ? String(error.message.dropFirst(entry.label.count + 2)) : error.message
            return Problem(file: entry.file, line: entry.line, entity: entry.label, field: error.field, message: message)
        }
        return Problem(file: entries.first?.file ?? "", field: error.field, message: error.message)
    }

    /// Several problems of one file, reported together.
    struct Problems: Error {
        var all: [Problem]
    }

    /// A schema violation at `routes[3].paths[0]`, put on the entity's line, with its name.
    private static func locate(_ violation: SchemaCheck.Violation, in root: JSONValue, lines: [String: Int], file: String) -> Problem {
        let path = violation.path
        if let close = path.firstIndex(of: "]"), let open = path.firstIndex(of: "["), open < close {
            let item = String(path[...close])
            let kind = kinds.first { $0.plural == path[..<open] }
            let index = Int(path[path.index(after: open)..<close]) ?? -1
            let name = root[String(path[..<open])]?.arrayValue.flatMap { $0.indices.contains(index) ? $0[index]["name"]?.stringValue : nil }
            let rest = path[path.index(after: close)...].drop { $0 == "." }
            return Problem(
                file: file, line: lines[item],
                entity: kind.map { kind in name.map { "\(kind.singular) '\($0)'" } ?? "\(kind.singular) #\(index + 1)" },
                field: rest.isEmpty ? nil : String(rest), message: violation.message)
        }
        return Problem(
            file: file, line: lines[path.split(separator: ".").first.map(String.init) ?? ""], field: path.isEmpty ? nil : path,
            message: violation.message)
    }

    private static func entries(
        of file: String, environment: [String: String]
    ) throws -> (entries: [Entry], problems: [Problem], secrets: Redaction) {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw Problem(file: file, message: "cannot be read as UTF-8 text")
        }
        var substitution = VariableSubstitution(environment: environment)
        let root: (value: JSONValue, lines: [String: Int])
        if file.hasSuffix(".json") {
            let parsed: JSONValue
            do {
                parsed = try JSONValue.parse(Array(text.utf8))
            } catch {
                throw Problem(file: file, message: error.message)
            }
            do {
                root = (try substituting(parsed, with: &substitution), [:])
            } catch {
                let place = position(of: "${\(error.name)}", in: text)
                throw Problem(file: file, line: place?.line, column: place?.column, message: "${\(error.name)} is not set in the environment")
            }
        } else {
            root = try YAMLDocument.read(text, file: file, substitution: &substitution)
        }
        var secrets = Redaction()
        secrets.learn(root.value, substituted: substitution.used)
        do {
            // Returned problems are redacted by `load`, with every file's secrets.
            let (entries, problems) = try entries(of: root, file: file)
            return (entries, problems, secrets)
        } catch let error as Problems {
            throw Problems(all: error.all.map(secrets.apply))
        } catch let error as Problem {
            throw secrets.apply(error)
        }
    }

    /// The entities of one file's document, checked against the schema.
    private static func entries(of root: (value: JSONValue, lines: [String: Int]), file: String) throws -> (entries: [Entry], problems: [Problem]) {
        guard case .object(let fields) = root.value else { throw Problem(file: file, message: "must hold a mapping with format_version") }
        var schema = SchemaCheck(root: DeclarativeSchema.value)
        let violations = schema.check(root.value)
        // An entity the schema refuses is reported and left out; the rest are still checked.
        let refused = Set(violations.compactMap { violation in violation.path.firstIndex(of: "]").map { String(violation.path[...$0]) } })
        if violations.contains(where: { !$0.path.contains("]") }) {
            throw Problems(all: violations.map { locate($0, in: root.value, lines: root.lines, file: file) })
        }
        let schemaProblems = violations.map { locate($0, in: root.value, lines: root.lines, file: file) }
        var entries: [Entry] = []
        for key in fields.keys.sorted() where key != "format_version" {
            guard let kind = kinds.first(where: { $0.plural == key }) else {
                throw Problem(file: file, line: root.lines[key], field: key, message: "unknown section; use upstreams, routes, consumers or policies")
            }
            guard let items = fields[key]?.arrayValue else { throw Problem(file: file, line: root.lines[key], field: key, message: "must be a list") }
            for (index, item) in items.enumerated() where !refused.contains("\(key)[\(index)]") {
                let line = root.lines["\(key)[\(index)]"]
                guard let name = item["name"]?.stringValue else {
                    throw Problem(file: file, line: line, field: "\(key)[\(index)].name", message: "every entity needs a name")
                }
                entries.append(Entry(kind: kind, name: name, file: file, line: line, value: item))
            }
        }
        return (entries, schemaProblems)
    }

    /// The live document as a declarative file: ids and the format left to defaults, only the
    /// entities carrying `tag` when given. Syncing it back changes nothing.
    public static func dumpable(_ document: JSONValue, tag: String?) -> JSONValue {
        var fields: [String: JSONValue] = ["format_version": .int(ConfigDocument.formatVersion)]
        for kind in kinds {
            let items = (document[kind.plural]?.arrayValue ?? []).filter { item in
                tag.map { item["tags"]?.arrayValue?.contains(.string($0)) == true } ?? true
            }
            fields[kind.plural] = .array(items.map(withoutID))
        }
        return .object(fields)
    }

    /// An entity without its id (names identify it), and so its credentials.
    private static func withoutID(_ value: JSONValue) -> JSONValue {
        guard case .object(var fields) = value else { return value }
        fields["id"] = nil
        if let credentials = fields["credentials"]?.arrayValue { fields["credentials"] = .array(credentials.map(withoutID)) }
        return .object(fields)
    }

    /// A JSON file's strings with their variables substituted (keys are names, left as written).
    private static func substituting(
        _ value: JSONValue, with substitution: inout VariableSubstitution
    ) throws(VariableSubstitution.Unset) -> JSONValue {
        switch value {
        case .string(let string): return .string(try substitution.apply(string) ?? string)
        case .array(let items):
            var result: [JSONValue] = []
            for item in items { result.append(try substituting(item, with: &substitution)) }
            return .array(result)
        case .object(let fields):
            var result: [String: JSONValue] = [:]
            for (key, field) in fields { result[key] = try substituting(field, with: &substitution) }
            return .object(result)
        default: return value
        }
    }

    /// Line and column (1-based) of the first `needle` in `text`: the JSON parser keeps no places.
    private static func position(of needle: String, in text: String) -> (line: Int, column: Int)? {
        guard let range = text.range(of: needle) else { return nil }
        let before = text[..<range.lowerBound]
        let lineStart = before.lastIndex(of: "\n").map(before.index(after:)) ?? before.startIndex
        return (before.count { $0 == "\n" } + 1, before[lineStart...].count + 1)
    }
}
