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
    }

    /// What a data plane says of itself when it connects.
    public struct Hello: Sendable, Equatable {
        public var nodeID: String
        public var hostname: String
        public var gatehouseVersion: String
        public var protocolVersion: Int
        public var policyTypes: [String]
        public var configVersion: Int?
        public var configHash: String?

        public init(
            nodeID: String, hostname: String, gatehouseVersion: String, protocolVersion: Int = ClusterProtocol.version, policyTypes: [String],
            configVersion: Int?, configHash: String?
        ) {
            self.nodeID = nodeID
            self.hostname = hostname
            self.gatehouseVersion = gatehouseVersion
            self.protocolVersion = protocolVersion
            self.policyTypes = policyTypes
            self.configVersion = configVersion
            self.configHash = configHash
        }

        public var headers: [(String, String)] {
            var headers = [
                (Header.nodeID, nodeID), (Header.hostname, hostname), (Header.gatehouseVersion, gatehouseVersion),
                (Header.protocolVersion, String(protocolVersion)), (Header.policyTypes, policyTypes.joined(separator: ",")),
            ]
            if let configVersion, let configHash {
                headers += [(Header.configVersion, String(configVersion)), (Header.configHash, configHash)]
            }
            return headers
        }

        /// Reads a hello from request headers; nil when a required one is missing.
        public init?(header: (String) -> String?) {
            guard let nodeID = header(Header.nodeID), EntityName.isToken(nodeID), let protocolText = header(Header.protocolVersion),
                let protocolVersion = Int(protocolText)
            else { return nil }
            self.nodeID = nodeID
            hostname = header(Header.hostname) ?? ""
            gatehouseVersion = header(Header.gatehouseVersion) ?? ""
            self.protocolVersion = protocolVersion
            policyTypes = (header(Header.policyTypes) ?? "").split(separator: ",").map(String.init)
            configVersion = header(Header.configVersion).flatMap(Int.init)
            configHash = header(Header.configHash)
        }
    }

    /// Control plane → data plane: a snapshot's frame, its document as the canonical JSON that was hashed.
    public static func snapshotFrame(_ snapshot: Snapshot) -> [UInt8] {
        ClusterFrame.encode(["type": "snapshot", "version": .int(snapshot.version), "hash": .string(snapshot.hash)], body: snapshot.canonicalJSON)
    }

    public static func heartbeatFrame(version: Int?) -> [UInt8] {
        ClusterFrame.encode(["type": "heartbeat", "version": version.map(JSONValue.int) ?? .null])
    }

    /// A snapshot message read back, its bytes checked against its hash before they are parsed.
    public static func snapshot(from message: ClusterFrame.Message) throws(ClusterFrame.Malformed) -> Snapshot {
        guard let version = message.header["version"]?.intValue, let hash = message.header["hash"]?.stringValue else {
            throw ClusterFrame.Malformed(description: "a snapshot message lacks its version or hash")
        }
        do {
            return try Snapshot(version: version, canonicalJSON: Array(message.body), hash: hash)
        } catch {
            throw ClusterFrame.Malformed(description: "snapshot \(version): \(error)")
        }
    }

    /// Data plane → control plane: what it did with a version, or that it is alive.
    public struct Report: Sendable, Equatable {
        public enum Kind: String, Sendable { case applied, rejected, heartbeat }
        public var nodeID: String
        public var kind: Kind
        public var version: Int?
        public var hash: String?
        public var reason: String?

        public init(nodeID: String, kind: Kind, version: Int?, hash: String?, reason: String? = nil) {
            self.nodeID = nodeID
            self.kind = kind
            self.version = version
            self.hash = hash
            self.reason = reason
        }

        public func json() -> JSONValue {
            [
                "node_id": .string(nodeID), "type": .string(kind.rawValue), "version": version.map(JSONValue.int) ?? .null,
                "hash": hash.map(JSONValue.string) ?? .null, "reason": reason.map(JSONValue.string) ?? .null,
            ]
        }

        public init(_ json: JSONValue) throws(ClusterFrame.Malformed) {
            guard let nodeID = json["node_id"]?.stringValue, let kind = json["type"]?.stringValue.flatMap(Kind.init) else {
                throw ClusterFrame.Malformed(description: "a report needs node_id and a type of applied, rejected or heartbeat")
            }
            self.init(
                nodeID: nodeID, kind: kind, version: json["version"]?.intValue, hash: json["hash"]?.stringValue, reason: json["reason"]?.stringValue)
        }
    }
}
