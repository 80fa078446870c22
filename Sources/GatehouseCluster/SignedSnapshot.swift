import GatehouseModel

/// A snapshot as the cluster carries it: with the control plane's epoch (the run of the
/// database's writer it comes from) and a signature over epoch, version and hash. What a data
/// plane receives, serves and keeps in its cache.
public struct SignedSnapshot: Sendable {
    public let snapshot: Snapshot
    public let epoch: String
    public let signature: String

    /// Signs `snapshot` as a version of `epoch` (control plane side).
    public init(_ snapshot: Snapshot, epoch: String, signer: SnapshotSigner) {
        self.snapshot = snapshot
        self.epoch = epoch
        signature = signer.signature(epoch: epoch, version: snapshot.version, hash: snapshot.hash)
    }

    /// A snapshot received or read back; throws unless `signature` is the token's for these values.
    public init(_ snapshot: Snapshot, epoch: String, signature: String, signer: SnapshotSigner) throws(ClusterFrame.Malformed) {
        guard signer.isValid(signature, epoch: epoch, version: snapshot.version, hash: snapshot.hash) else {
            throw ClusterFrame.Malformed(
                description: "snapshot \(snapshot.version) has no valid signature: it was not made with this cluster token (forged, altered, or another cluster's)")
        }
        self.init(checked: snapshot, epoch: epoch, signature: signature)
    }

    /// Values whose signature the caller has just checked.
    init(checked snapshot: Snapshot, epoch: String, signature: String) {
        self.snapshot = snapshot
        self.epoch = epoch
        self.signature = signature
    }
}
