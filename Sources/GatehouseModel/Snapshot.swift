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
}
