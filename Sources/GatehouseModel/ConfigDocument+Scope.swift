/// Replacing the part of a config that carries some tags (`PUT /config?select_tags=`), leaving
/// every other entity alone.
extension ConfigDocument {
    /// The entities of `self` that carry every tag in `tags`, replaced by those of `part`.
    /// Every entity of `part` must carry the tags; none may take the name of an entity outside
    /// the scope.
    public func replacingScope(_ tags: Set<String>, with part: ConfigDocument) throws(ConfigError) -> ConfigDocument {
        guard !tags.isEmpty else { return part }
        var result = self
        try Self.replace(\.upstreams, in: &result, with: part, tags: tags)
        try Self.replace(\.routes, in: &result, with: part, tags: tags)
        try Self.replace(\.consumers, in: &result, with: part, tags: tags)
        try Self.replace(\.policies, in: &result, with: part, tags: tags)
        try Self.replace(\.certificates, in: &result, with: part, tags: tags)
        result.sort()
        return result
    }

    private static func replace<T: ConfigEntity>(
        _ path: WritableKeyPath<ConfigDocument, [T]>, in document: inout ConfigDocument, with part: ConfigDocument, tags: Set<String>
    ) throws(ConfigError) {
        let kept = document[keyPath: path].filter { !tags.isSubset(of: $0.header.tags) }
        let keptNames = Set(kept.map(\.name))
        for (index, entity) in part[keyPath: path].enumerated() {
            let field = "\(T.kind.plural)[\(index)]"
            guard tags.isSubset(of: entity.header.tags) else {
                throw .invalid(
                    "\(T.kind.singular) '\(entity.name)' lacks the selected tags \(tags.sorted().joined(separator: ", "))",
                    field: "\(field).tags"
                )
            }
            if keptNames.contains(entity.name) {
                throw ConfigError(
                    code: .conflict,
                    message: "\(T.kind.singular) '\(entity.name)' exists without the selected tags; a change scoped to them cannot take it over",
                    field: "\(field).name"
                )
            }
        }
        document[keyPath: path] = kept + part[keyPath: path]
    }
}
