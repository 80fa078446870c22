/// Who calls: an identity that credentials authenticate and policies can be scoped to.
public struct Consumer: Sendable, Hashable {
    public var header: EntityHeader
    public var customID: String?
    public var groups: [String] = []
    /// Sorted by id so documents are canonical.
    public var credentials: [Credential] = []

    public var id: String { header.id }
    public var name: String { header.name }

    public init(header: EntityHeader) {
        self.header = header
    }

    /// Reads a consumer. Credentials are part of the document form only; the admin API manages
    /// them as a sub-resource.
    public static func read(_ value: JSONValue, id: String? = nil, path: String = "") throws(ConfigError) -> Consumer {
        var reader = try FieldReader(value, path: path)
        var consumer = Consumer(header: try EntityHeader.read(&reader, id: id))
        if let customID = try reader.optionalString("custom_id") {
            guard (1...256).contains(customID.utf8.count) else { throw .invalid("must be 1 to 256 bytes", field: reader.field("custom_id")) }
            // It goes upstream in `X-Consumer-Custom-Id`: a control character would break the header.
            guard customID.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else {
                throw .invalid("must not contain control characters", field: reader.field("custom_id"))
            }
            consumer.customID = customID
        }
        let groups = try reader.optionalStrings("groups") ?? []
        for (index, group) in groups.enumerated() {
            try EntityName.validate(group, field: "\(reader.field("groups"))[\(index)]")
        }
        consumer.groups = Array(Set(groups)).sorted()
        if id == nil {
            for (index, item) in (try reader.optionalArray("credentials") ?? []).enumerated() {
                consumer.credentials.append(try Credential.readDocument(item, path: "\(reader.field("credentials"))[\(index)]"))
            }
            consumer.credentials.sort { $0.id < $1.id }
        }
        try reader.finish()
        return consumer
    }

    /// The document form, with credentials (hashed secrets only).
    public func json() -> JSONValue {
        var fields = jsonWithoutCredentials().objectValue!
        fields["credentials"] = .array(credentials.map { $0.json() })
        return .object(fields)
    }

    /// The admin API form: credentials are listed under `/consumers/{c}/credentials`.
    public func jsonWithoutCredentials() -> JSONValue {
        var fields = header.fields()
        fields["custom_id"] = customID.map(JSONValue.string) ?? .null
        fields["groups"] = .array(groups.map(JSONValue.string))
        return .object(fields)
    }
}
