import GatehouseModel

/// A delta as the cluster carries it: the document of `baseVersion` (with `baseHash`) becomes
/// that of `version` (with `hash`), in `epoch`. `signature` covers those five values, and
/// `snapshotSignature` is the signature of the snapshot it makes, which the data plane keeps
/// with it in its cache. The result is served only once its bytes match `hash`.
public struct SignedDelta: Sendable {
    public let epoch: String
    public let baseVersion: Int
    public let baseHash: String
    public let version: Int
    public let hash: String
    public let signature: String
    public let snapshotSignature: String
    public let delta: SnapshotDelta

    /// Signs `delta` from `base` to `target` in `epoch` (control plane side).
    public init(_ delta: SnapshotDelta, from base: (version: Int, hash: String), to target: Snapshot, epoch: String, signer: SnapshotSigner) {
        self.delta = delta
        self.epoch = epoch
        (baseVersion, baseHash) = base
        (version, hash) = (target.version, target.hash)
        signature = signer.deltaSignature(epoch: epoch, baseVersion: base.version, baseHash: base.hash, version: version, hash: hash)
        snapshotSignature = signer.signature(epoch: epoch, version: version, hash: hash)
    }

    /// Values whose signatures the caller has just checked.
    init(
        checked delta: SnapshotDelta, epoch: String, baseVersion: Int, baseHash: String, version: Int, hash: String, signature: String,
        snapshotSignature: String
    ) {
        self.delta = delta
        self.epoch = epoch
        self.baseVersion = baseVersion
        self.baseHash = baseHash
        self.version = version
        self.hash = hash
        self.signature = signature
        self.snapshotSignature = snapshotSignature
    }

    /// The snapshot a document patched up to this delta's version is, signed: once its bytes
    /// match this delta's hash (earlier deltas applied on the way are covered by it too).
    public func signedSnapshot(of document: PatchableDocument) throws(PatchableDocument.Refused) -> SignedSnapshot {
        guard document.version == version, document.hash == hash else {
            throw PatchableDocument.Refused(description: "the patched document is version \(document.version), not \(version)")
        }
        return SignedSnapshot(checked: try document.snapshot(), epoch: epoch, signature: snapshotSignature)
    }
}
