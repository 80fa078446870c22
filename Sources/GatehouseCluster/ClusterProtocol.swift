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

    public static func heartbeatFrame(version: Int?) -> [UInt8] {
        ClusterFrame.encode(["type": "heartbeat", "version": version.map(JSONValue.int) ?? .null])
    }

    /// What a data plane can receive.
    public enum Incoming: Sendable {
        case snapshot(SignedSnapshot)
        case heartbeat(version: Int?)
    }

    /// A message read back and checked whole: every header field in form and range, a snapshot's
    /// signature, then its bytes against its hash before they are parsed.
    public static func incoming(_ message: ClusterFrame.Message, signer: SnapshotSigner) throws(ClusterFrame.Malformed) -> Incoming {
        guard let header = message.header.objectValue else { throw ClusterFrame.Malformed(description: "a message header is not a JSON object") }
        switch header["type"]?.stringValue {
        case "heartbeat":
            guard Set(header.keys).isSubset(of: ["type", "version"]), message.body.isEmpty else {
                throw ClusterFrame.Malformed(description: "a heartbeat carries only type and version")
            }
            switch header["version"] {
            case nil, .null?: return .heartbeat(version: nil)
            case .int(let version)? where configVersions.contains(version): return .heartbeat(version: version)
            default: throw ClusterFrame.Malformed(description: "a heartbeat's version must be null or \(versionRange)")
            }
        case "snapshot":
            if let unknown = Set(header.keys).subtracting(["type", "version", "hash", "epoch", "signature"]).sorted().first {
                throw ClusterFrame.Malformed(description: "a snapshot message has an unknown field '\(unknown.prefix(64))'")
            }
            guard let version = header["version"]?.intValue, configVersions.contains(version) else {
                throw ClusterFrame.Malformed(description: "a snapshot's version must be \(versionRange)")
            }
            guard let hash = header["hash"]?.stringValue, isHexDigest(hash) else {
                throw ClusterFrame.Malformed(description: "snapshot \(version): its hash must be 64 lowercase hex digits")
            }
            guard let epoch = header["epoch"]?.stringValue, isEpoch(epoch) else {
                throw ClusterFrame.Malformed(description: "snapshot \(version): its epoch must be a lowercase UUID")
            }
            guard let signature = header["signature"]?.stringValue, isHexDigest(signature) else {
                throw ClusterFrame.Malformed(description: "snapshot \(version): its signature must be 64 lowercase hex digits")
            }
            // The signature first: a forged frame is refused before its document is hashed or parsed.
            guard signer.isValid(signature, epoch: epoch, version: version, hash: hash) else {
                throw ClusterFrame.Malformed(
                    description: "snapshot \(version) has no valid signature: it was not made with this cluster token (forged, altered, or another cluster's)")
            }
            let snapshot: Snapshot
            do {
                snapshot = try Snapshot(version: version, canonicalJSON: Array(message.body), hash: hash)
            } catch {
                throw ClusterFrame.Malformed(description: "snapshot \(version): \(error)")
            }
            return .snapshot(SignedSnapshot(checked: snapshot, epoch: epoch, signature: signature))
        default:
            throw ClusterFrame.Malformed(description: "a message has no type, or one other than snapshot and heartbeat")
        }
    }
}
