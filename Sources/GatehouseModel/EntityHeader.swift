/// What every top-level entity carries: a server-assigned id, a unique name and tags.
public struct EntityHeader: Sendable, Hashable {
    public var id: String
    public var name: String
    public var tags: [String]

    public init(id: String, name: String, tags: [String] = []) {
        self.id = id
        self.name = name
        self.tags = tags
    }

    /// Reads `name`, `tags` and, in the document form (`id` nil), an optional `id`.
    static func read(_ reader: inout FieldReader, id assignedID: String?) throws(ConfigError) -> EntityHeader {
        let name = try reader.string("name")
        try EntityName.validate(name, field: reader.field("name"))
        let tags = try EntityName.normalizedTags(try reader.optionalStrings("tags"), field: reader.field("tags"))
        let id: String
        if let assignedID {
            id = assignedID
            if let given = reader.value("id"), given != .string(assignedID) {
                throw .invalid("is assigned by the server and cannot be set or changed", field: reader.field("id"))
            }
        } else {
            // A document may leave ids out; `ConfigDocument.adoptIdentities` fills them in.
            id = try reader.optionalString("id") ?? ""
            guard id.isEmpty || EntityName.isUUID(id) else { throw .invalid("'\(id)' is not a lowercase UUID", field: reader.field("id")) }
        }
        return EntityHeader(id: id, name: name, tags: tags)
    }

    func fields() -> [String: JSONValue] {
        ["id": .string(id), "name": .string(name), "tags": .array(tags.map(JSONValue.string))]
    }
}
