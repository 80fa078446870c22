import GatehouseModel

/// Names and messages of the cluster protocol (docs/cluster-protocol.md), shared by both sides.
public enum ClusterProtocol {
    /// Bumped when a data plane of the previous version could no longer read what is sent.
    public static let version = 1
    public static let streamPath = "/cluster/v1/stream"
    public static let reportsPath = "/cluster/v1/reports"
    public static let heartbeatSeconds = 5

    public enum Header {
        public static let nodeID = "gatehouse-node-id"
        public static let hostname = "gatehouse-hostname"
        public static let gatehouseVersion = "gatehouse-version"
        public static let protocolVersion = "gatehouse-cluster-protocol"
        public static let policyTypes = "gatehouse-policy-types"
        public static let configVersion = "gatehouse-config-version"
        public static let configHash = "gatehouse-config-hash"
        public static let configEpoch = "gatehouse-config-epoch"
        /// `1` from a data plane that applies deltas to the config it names in its hello.
        public static let deltas = "gatehouse-deltas"
    }

    /// Control plane → data plane: a snapshot's frame: its epoch, version, hash and signature in the
    /// header, its document as the canonical JSON that was hashed after it.
    public static func snapshotFrame(_ signed: SignedSnapshot) -> [UInt8] {
        ClusterFrame.encode(
            [
                "type": "snapshot", "version": .int(signed.snapshot.version), "hash": .string(signed.snapshot.hash), "epoch": .string(signed.epoch),
                "signature": .string(signed.signature),
            ], body: signed.snapshot.canonicalJSON)
    }

    /// Control plane → data plane: a delta's frame: epoch, base version and hash, version and
    /// hash it makes, and both signatures in the header; the encoded delta after it.
    public static func deltaFrame(_ signed: SignedDelta) -> [UInt8] {
        ClusterFrame.encode(
            [
                "type": "delta", "epoch": .string(signed.epoch), "base_version": .int(signed.baseVersion), "base_hash": .string(signed.baseHash),
                "version": .int(signed.version), "hash": .string(signed.hash), "signature": .string(signed.signature),
                "snapshot_signature": .string(signed.snapshotSignature),
            ], body: signed.delta.encoded())
    }

    public static func heartbeatFrame(version: Int?) -> [UInt8] {
        ClusterFrame.encode(["type": "heartbeat", "version": version.map(JSONValue.int) ?? .null])
    }

    /// What a data plane can receive.
    public enum Incoming: Sendable {
        case snapshot(SignedSnapshot)
        case delta(SignedDelta)
        /// A signed snapshot or delta whose frame is over this data plane's limit: not read.
        case tooLarge(version: Int, hash: String, epoch: String, bytes: Int)
        case heartbeat(version: Int?)
    }

    /// A message read back and checked whole: every header field in form and range, a snapshot's
    /// or delta's signatures, then a snapshot's bytes against its hash before they are parsed (a
    /// delta's result is checked against its hash once applied).
    public static func incoming(_ message: ClusterFrame.Message, signer: SnapshotSigner) throws(ClusterFrame.Malformed) -> Incoming {
        guard let header = message.header.objectValue else { throw ClusterFrame.Malformed(description: "a message header is not a JSON object") }
        switch header["type"]?.stringValue {
        case "heartbeat":
            guard Set(header.keys).isSubset(of: ["type", "version"]), message.body.isEmpty, message.tooLarge == nil else {
                throw ClusterFrame.Malformed(description: "a heartbeat carries only type and version")
            }
            switch header["version"] {
            case nil, .null?: return .heartbeat(version: nil)
            case .int(let version)? where configVersions.contains(version): return .heartbeat(version: version)
            default: throw ClusterFrame.Malformed(description: "a heartbeat's version must be null or \(versionRange)")
            }
        case "snapshot":
            let (version, hash, epoch, signature) = try signedFields(header, allowing: [], what: "snapshot")
            // The signature first: a forged frame is refused before its document is hashed or parsed.
            guard signer.isValid(signature, epoch: epoch, version: version, hash: hash) else {
                throw ClusterFrame.Malformed(
                    description:
                        "snapshot \(version) has no valid signature: it was not made with this cluster token (forged, altered, or another cluster's)")
            }
            if let size = message.tooLarge { return .tooLarge(version: version, hash: hash, epoch: epoch, bytes: size) }
            let snapshot: Snapshot
            do {
                snapshot = try Snapshot(version: version, canonicalJSON: Array(message.body), hash: hash)
            } catch {
                throw ClusterFrame.Malformed(description: "snapshot \(version): \(error)")
            }
            return .snapshot(SignedSnapshot(checked: snapshot, epoch: epoch, signature: signature))
        case "delta":
            let (version, hash, epoch, signature) = try signedFields(
                header, allowing: ["base_version", "base_hash", "snapshot_signature"], what: "delta")
            guard let baseVersion = header["base_version"]?.intValue, configVersions.contains(baseVersion), baseVersion < version else {
                throw ClusterFrame.Malformed(description: "delta to \(version): its base_version must be an earlier version, \(versionRange)")
            }
            guard let baseHash = header["base_hash"]?.stringValue, isHexDigest(baseHash) else {
                throw ClusterFrame.Malformed(description: "delta to \(version): its base_hash must be 64 lowercase hex digits")
            }
            guard let snapshotSignature = header["snapshot_signature"]?.stringValue, isHexDigest(snapshotSignature) else {
                throw ClusterFrame.Malformed(description: "delta to \(version): its snapshot_signature must be 64 lowercase hex digits")
            }
            guard signer.isValidDelta(signature, epoch: epoch, baseVersion: baseVersion, baseHash: baseHash, version: version, hash: hash),
                signer.isValid(snapshotSignature, epoch: epoch, version: version, hash: hash)
            else {
                throw ClusterFrame.Malformed(
                    description:
                        "delta from \(baseVersion) to \(version) has no valid signature: it was not made with this cluster token (forged, altered, or another cluster's)"
                )
            }
            if let size = message.tooLarge { return .tooLarge(version: version, hash: hash, epoch: epoch, bytes: size) }
            let delta = try SnapshotDelta(decoding: message.body)
            return .delta(
                SignedDelta(
                    checked: delta, epoch: epoch, baseVersion: baseVersion, baseHash: baseHash, version: version, hash: hash, signature: signature,
                    snapshotSignature: snapshotSignature))
        default:
            throw ClusterFrame.Malformed(description: "a message has no type, or one other than snapshot, delta and heartbeat")
        }
    }

    /// The fields a snapshot's and a delta's headers share, checked in form; no others but `allowing`.
    private static func signedFields(
        _ header: [String: JSONValue], allowing: Set<String>, what: String
    ) throws(ClusterFrame.Malformed) -> (version: Int, hash: String, epoch: String, signature: String) {
        if let unknown = Set(header.keys).subtracting(allowing.union(["type", "version", "hash", "epoch", "signature"])).sorted().first {
            throw ClusterFrame.Malformed(description: "a \(what) message has an unknown field '\(unknown.prefix(64))'")
        }
        guard let version = header["version"]?.intValue, configVersions.contains(version) else {
            throw ClusterFrame.Malformed(description: "a \(what)'s version must be \(versionRange)")
        }
        guard let hash = header["hash"]?.stringValue, isHexDigest(hash) else {
            throw ClusterFrame.Malformed(description: "\(what) \(version): its hash must be 64 lowercase hex digits")
        }
        guard let epoch = header["epoch"]?.stringValue, isEpoch(epoch) else {
            throw ClusterFrame.Malformed(description: "\(what) \(version): its epoch must be a lowercase UUID")
        }
        guard let signature = header["signature"]?.stringValue, isHexDigest(signature) else {
            throw ClusterFrame.Malformed(description: "\(what) \(version): its signature must be 64 lowercase hex digits")
        }
        return (version, hash, epoch, signature)
    }
}
