import GatehouseModel

extension ClusterProtocol {
    /// Data plane → control plane: what it did with a version, or that it is alive.
    public struct Report: Sendable, Equatable {
        public enum Kind: String, Sendable { case applied, rejected, heartbeat }
        public var nodeID: String
        public var kind: Kind
        public var version: Int?
        public var hash: String?
        /// The epoch of the snapshot it serves (applied, heartbeat) or refused (rejected).
        public var epoch: String?
        public var reason: String?

        public init(nodeID: String, kind: Kind, version: Int?, hash: String?, epoch: String? = nil, reason: String? = nil) {
            self.nodeID = nodeID
            self.kind = kind
            self.version = version
            self.hash = hash
            self.epoch = epoch
            self.reason = reason.map(Self.fitted)
        }

        public func json() -> JSONValue {
            [
                "node_id": .string(nodeID), "type": .string(kind.rawValue), "version": version.map(JSONValue.int) ?? .null,
                "hash": hash.map(JSONValue.string) ?? .null, "epoch": epoch.map(JSONValue.string) ?? .null,
                "reason": reason.map(JSONValue.string) ?? .null,
            ]
        }

        /// Reads a report and checks every field; throws naming the first that is wrong.
        public init(_ json: JSONValue) throws(ClusterFrame.Malformed) {
            guard let fields = json.objectValue else { throw ClusterFrame.Malformed(description: "a report must be a JSON object") }
            if let unknown = Set(fields.keys).subtracting(["node_id", "type", "version", "hash", "epoch", "reason"]).sorted().first {
                throw ClusterFrame.Malformed(description: "unknown field '\(unknown.prefix(64))'")
            }
            guard let nodeID = fields["node_id"]?.stringValue, isNodeID(nodeID) else {
                throw ClusterFrame.Malformed(description: "node_id must be a token of 1 to \(maxNodeIDBytes) characters")
            }
            guard let kind = fields["type"]?.stringValue.flatMap(Kind.init) else {
                throw ClusterFrame.Malformed(description: "type must be applied, rejected or heartbeat")
            }
            func optional(_ name: String) throws(ClusterFrame.Malformed) -> JSONValue? {
                guard let value = fields[name], value != .null else { return nil }
                return value
            }
            var version: Int?
            if let value = try optional("version") {
                guard let number = value.intValue, configVersions.contains(number) else {
                    throw ClusterFrame.Malformed(description: "version must be \(versionRange)")
                }
                version = number
            }
            var hash: String?
            if let value = try optional("hash") {
                guard let text = value.stringValue, isHexDigest(text) else { throw ClusterFrame.Malformed(description: "hash must be 64 lowercase hex digits") }
                hash = text
            }
            var epoch: String?
            if let value = try optional("epoch") {
                guard let text = value.stringValue, isEpoch(text) else { throw ClusterFrame.Malformed(description: "epoch must be a lowercase UUID") }
                epoch = text
            }
            var reason: String?
            if let value = try optional("reason") {
                guard let text = value.stringValue, text.utf8.count <= maxReasonBytes else {
                    throw ClusterFrame.Malformed(description: "reason must be a string of at most \(maxReasonBytes) bytes")
                }
                reason = text
            }
            switch kind {
            case .applied, .rejected:
                guard version != nil, hash != nil else { throw ClusterFrame.Malformed(description: "applied and rejected reports need version and hash") }
                if kind == .rejected, reason == nil { throw ClusterFrame.Malformed(description: "a rejected report needs its reason") }
            case .heartbeat:
                guard (version == nil) == (hash == nil) else { throw ClusterFrame.Malformed(description: "version and hash go together") }
            }
            if kind != .rejected, reason != nil { throw ClusterFrame.Malformed(description: "only a rejected report has a reason") }
            if epoch != nil, version == nil { throw ClusterFrame.Malformed(description: "epoch needs version and hash") }
            self.init(nodeID: nodeID, kind: kind, version: version, hash: hash, epoch: epoch, reason: reason)
        }

        /// A reason cut to the limit on a character boundary, saying it was cut.
        static func fitted(_ reason: String) -> String {
            guard reason.utf8.count > maxReasonBytes else { return reason }
            var cut = Substring(reason)
            while cut.utf8.count > maxReasonBytes - 16 { cut = cut.dropLast(max(1, (cut.utf8.count - maxReasonBytes + 16) / 4)) }
            return cut + " … (cut)"
        }
    }
}
