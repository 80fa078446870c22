extension JSONValue {
    /// Applies an RFC 7396 JSON merge patch: objects merge recursively, `null` removes a field,
    /// anything else replaces.
    public func merging(patch: JSONValue) -> JSONValue {
        guard case .object(let patchFields) = patch else { return patch }
        var fields = objectValue ?? [:]
        for (key, value) in patchFields {
            if value == .null {
                fields[key] = nil
            } else {
                fields[key] = (fields[key] ?? .null).merging(patch: value)
            }
        }
        return .object(fields)
    }
}
