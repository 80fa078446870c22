import Crypto

/// The whole config at one version: every entity, in canonical order (by name). This is the
/// content of a snapshot and of `GET /config`; references are by name.
public struct ConfigDocument: Sendable, Hashable {
    public static let formatVersion = 1

    public var upstreams: [Upstream] = []
    public var routes: [Route] = []
    public var consumers: [Consumer] = []
    public var policies: [Policy] = []
    /// Written only when there are some, so documents without TLS keep their hash and older
    /// data planes can read them.
    public var certificates: [TLSCertificate] = []

    public init() {}

    public static func read(_ value: JSONValue) throws(ConfigError) -> ConfigDocument {
        var reader = try FieldReader(value)
        guard let format = try reader.optionalInt("format_version", in: 0...Int.max) else { throw reader.missing("format_version") }
        guard format == formatVersion else {
            throw .invalid("format_version \(format) is not supported; this version reads \(formatVersion)", field: "format_version")
        }
        var document = ConfigDocument()
        for (index, item) in (try reader.optionalArray("upstreams") ?? []).enumerated() {
            document.upstreams.append(try Upstream.read(item, path: "upstreams[\(index)]"))
        }
        for (index, item) in (try reader.optionalArray("routes") ?? []).enumerated() {
            document.routes.append(try Route.read(item, path: "routes[\(index)]"))
        }
        for (index, item) in (try reader.optionalArray("consumers") ?? []).enumerated() {
            document.consumers.append(try Consumer.read(item, path: "consumers[\(index)]"))
        }
        for (index, item) in (try reader.optionalArray("policies") ?? []).enumerated() {
            document.policies.append(try Policy.read(item, path: "policies[\(index)]"))
        }
        for (index, item) in (try reader.optionalArray("certificates") ?? []).enumerated() {
            document.certificates.append(try TLSCertificate.read(item, path: "certificates[\(index)]"))
        }
        try reader.finish()
        document.sort()
        return document
    }

    public func json() -> JSONValue {
        var fields: [String: JSONValue] = [
            "format_version": .int(Self.formatVersion),
            "upstreams": .array(upstreams.map { $0.json() }),
            "routes": .array(routes.map { $0.json() }),
            "consumers": .array(consumers.map { $0.json() }),
            "policies": .array(policies.map { $0.json() }),
        ]
        if !certificates.isEmpty { fields["certificates"] = .array(certificates.map { $0.json() }) }
        return .object(fields)
    }

    /// The form answers and dumps show: certificate keys only as references (`key_ref`).
    /// `hidingCredentialHashes`: credentials without their hashes either, for a caller who may
    /// read the config but not change it (a hash of a short key can be searched offline).
    public func publicJSON(hidingCredentialHashes: Bool = false) -> JSONValue {
        guard case .object(var fields) = json() else { return json() }
        if !certificates.isEmpty { fields["certificates"] = .array(certificates.map { $0.publicJSON() }) }
        if hidingCredentialHashes {
            fields["consumers"] = .array(
                consumers.map { consumer in
                    var fields = consumer.jsonWithoutCredentials().objectValue!
                    fields["credentials"] = .array(consumer.credentials.map { $0.publicJSON() })
                    return .object(fields)
                })
        }
        return .object(fields)
    }

    /// Keeps every list in canonical order.
    public mutating func sort() {
        upstreams.sort { $0.name < $1.name }
        routes.sort { $0.name < $1.name }
        consumers.sort { $0.name < $1.name }
        for index in consumers.indices { consumers[index].credentials.sort { $0.id < $1.id } }
        policies.sort { $0.name < $1.name }
        certificates.sort { $0.name < $1.name }
    }

    public var entityCount: Int {
        upstreams.count + routes.count + consumers.count + policies.count + certificates.count + consumers.reduce(0) { $0 + $1.credentials.count }
    }

    /// The canonical JSON bytes and their SHA-256 (hex). Equal documents give equal hashes.
    public func canonical() -> (bytes: [UInt8], hash: String) {
        let bytes = json().canonicalBytes
        return (bytes, Credential.hex(Array(SHA256.hash(data: bytes))))
    }
}
