import Crypto

/// The whole config at one committed version, immutable. `hash` is the SHA-256 of the canonical
/// JSON of `document`, so equal content always has an equal hash whatever version carries it.
public struct Snapshot: Sendable {
    public let version: Int
    public let document: ConfigDocument
    public let canonicalJSON: [UInt8]
    public let hash: String

    /// The document is put in canonical order first, so the hash depends on content only.
    public init(version: Int, document: ConfigDocument) {
        var document = document
        document.sort()
        self.version = version
        self.document = document
        (canonicalJSON, hash) = document.canonical()
    }

    /// A snapshot received as the canonical JSON its hash was computed over: the bytes are checked
    /// against `hash` before they are parsed, and not serialized again.
    public init(version: Int, canonicalJSON: [UInt8], hash: String) throws(ConfigError) {
        let actual = Credential.hex(Array(SHA256.hash(data: canonicalJSON)))
        guard actual == hash else { throw .invalid("the document does not match its hash \(hash.prefix(12))…: it was changed or damaged") }
        // `read` leaves the document in canonical order.
        self.document = try ConfigDocument.read(try JSONValue.parse(canonicalJSON))
        self.version = version
        self.canonicalJSON = canonicalJSON
        self.hash = hash
    }

    /// A snapshot made by patching an earlier one (a cluster delta): `document` must be what
    /// reading `canonicalJSON` gives, as the patch reads each entity it changes from those bytes.
    /// The bytes are checked against `hash`, the whole document is not parsed again.
    public init(version: Int, document: ConfigDocument, canonicalJSON: [UInt8], checkingHash hash: String) throws(ConfigError) {
        let actual = Credential.hex(Array(SHA256.hash(data: canonicalJSON)))
        guard actual == hash else { throw .invalid("the patched document does not match its hash \(hash.prefix(12))…") }
        self.version = version
        self.document = document
        self.canonicalJSON = canonicalJSON
        self.hash = hash
    }
}
