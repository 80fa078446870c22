import GatehouseCluster
import GatehouseModel

/// The documents a data plane can apply the control plane's deltas to: the one received last
/// (whole, or patched and checked against its hash) and the one served, which is what the hello of
/// a new stream names. A patched document that does not match its hash is dropped, never kept as
/// a base. A value the feed owns.
struct DeltaBases {
    private struct Held {
        let epoch: String
        let version: Int
        let hash: String
        /// Set for a snapshot received whole until a delta needs its layout.
        var snapshot: Snapshot?
        var document: PatchableDocument?

        mutating func patchable() throws(PatchableDocument.Refused) -> PatchableDocument {
            if let document { return document }
            let made = try PatchableDocument(snapshot!)
            (document, snapshot) = (made, nil)
            return made
        }
    }

    private var received: Held?
    private var serving: Held?
    /// Whether `received` was patched and its hash is still to be checked.
    private var unchecked = false

    mutating func received(_ signed: SignedSnapshot) {
        received = Held(epoch: signed.epoch, version: signed.snapshot.version, hash: signed.snapshot.hash, snapshot: signed.snapshot)
        unchecked = false
    }

    /// Patches the base `delta` names; throws saying why when it is not held or the patch fails.
    mutating func apply(_ delta: SignedDelta) throws(PatchableDocument.Refused) {
        func names(_ held: Held?) -> Bool {
            held.map { $0.epoch == delta.epoch && $0.version == delta.baseVersion && $0.hash == delta.baseHash } ?? false
        }
        let patched: PatchableDocument
        if names(received) {
            patched = try received!.patchable().applying(delta.delta, version: delta.version, hash: delta.hash)
        } else if names(serving) {
            // Kept with the layout found, for the next stream's deltas.
            patched = try serving!.patchable().applying(delta.delta, version: delta.version, hash: delta.hash)
        } else {
            let held = received.map { "version \($0.version) (\($0.hash.prefix(12))…)" } ?? "no document"
            throw PatchableDocument.Refused(
                description:
                    "the delta applies to version \(delta.baseVersion) (\(delta.baseHash.prefix(12))…) of epoch \(delta.epoch); this data plane holds \(held)"
            )
        }
        received = Held(epoch: delta.epoch, version: delta.version, hash: delta.hash, document: patched)
        unchecked = true
    }

    /// The snapshot the deltas applied last made, once its bytes match `delta`'s hash.
    mutating func signedSnapshot(_ delta: SignedDelta) throws(PatchableDocument.Refused) -> SignedSnapshot {
        guard let document = received?.document, unchecked else {
            throw PatchableDocument.Refused(description: "no patched document to check")
        }
        do {
            let signed = try delta.signedSnapshot(of: document)
            unchecked = false
            return signed
        } catch {
            // Not the control plane's document: it is no base for anything.
            received = serving
            unchecked = false
            throw error
        }
    }

    /// What was received last is served now.
    mutating func served() {
        serving = received
    }
}
