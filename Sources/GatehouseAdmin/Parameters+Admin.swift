import GatehouseModel
import Hummingbird

/// Path parameters as the OpenAPI document describes them: `{key}` is an entity's id or name
/// (ids are lowercase UUIDs, which the name pattern also admits) and a credential's `{id}` is
/// a lowercase UUID. Anything else is refused with 400 before any lookup, so a malformed key is
/// told apart from a well-formed one that names nothing (404).
extension Parameters {
    func entityKey() throws(ConfigError) -> String {
        let key = get("key") ?? ""
        guard EntityName.isValid(key) else {
            throw .invalid(
                "'\(key)' is neither an id nor a name: names are 1 to 128 of a-z 0-9 . _ - starting with a letter or digit, ids lowercase UUIDs",
                field: "key")
        }
        return key
    }

    func credentialID() throws(ConfigError) -> String {
        let id = get("id") ?? ""
        guard EntityName.isUUID(id) else { throw .invalid("'\(id)' is not a credential id (a lowercase UUID)", field: "id") }
        return id
    }
}
