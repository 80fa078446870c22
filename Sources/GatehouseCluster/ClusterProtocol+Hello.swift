import GatehouseModel

extension ClusterProtocol {
    /// What a data plane says of itself when it connects: the stream request's headers.
    public struct Hello: Sendable, Equatable {
        public var nodeID: String
        public var hostname: String
        public var gatehouseVersion: String
        public var protocolVersion: Int
        public var policyTypes: [String]
        /// The snapshot it serves, if any: its version, hash and the epoch it came from.
        public var configVersion: Int?
        public var configHash: String?
        public var configEpoch: String?
        /// Whether it takes a delta from the config it names instead of the whole snapshot.
        public var acceptsDeltas: Bool

        public init(
            nodeID: String, hostname: String, gatehouseVersion: String, protocolVersion: Int = ClusterProtocol.version, policyTypes: [String],
            configVersion: Int?, configHash: String?, configEpoch: String? = nil, acceptsDeltas: Bool = false
        ) {
            self.acceptsDeltas = acceptsDeltas
            self.nodeID = nodeID
            self.hostname = hostname
            self.gatehouseVersion = gatehouseVersion
            self.protocolVersion = protocolVersion
            self.policyTypes = policyTypes
            self.configVersion = configVersion
            self.configHash = configHash
            self.configEpoch = configEpoch
        }

        public var headers: [(String, String)] {
            var headers = [
                (Header.nodeID, nodeID), (Header.hostname, hostname), (Header.gatehouseVersion, gatehouseVersion),
                (Header.protocolVersion, String(protocolVersion)), (Header.policyTypes, policyTypes.joined(separator: ",")),
            ]
            if let configVersion, let configHash {
                headers += [(Header.configVersion, String(configVersion)), (Header.configHash, configHash)]
                if let configEpoch { headers.append((Header.configEpoch, configEpoch)) }
            }
            if acceptsDeltas { headers.append((Header.deltas, "1")) }
            return headers
        }

        /// Reads a hello from request headers; throws naming the header that is missing or out
        /// of form. A data plane of another protocol version is read only as far as the registry
        /// needs to show it (its id and labels), since its other headers may mean other things.
        public init(header: (String) -> String?) throws(ClusterFrame.Malformed) {
            guard let nodeID = header(Header.nodeID), isNodeID(nodeID) else {
                throw ClusterFrame.Malformed(description: "Gatehouse-Node-Id must be a token of 1 to \(maxNodeIDBytes) characters")
            }
            guard let protocolText = header(Header.protocolVersion), protocolText.utf8.count <= 4, let protocolVersion = Int(protocolText),
                protocolVersion > 0
            else {
                throw ClusterFrame.Malformed(description: "Gatehouse-Cluster-Protocol must be a protocol version such as \(ClusterProtocol.version)")
            }
            self.nodeID = nodeID
            self.protocolVersion = protocolVersion
            let speaksOurs = protocolVersion == ClusterProtocol.version
            func label(_ name: String, _ shown: String) throws(ClusterFrame.Malformed) -> String {
                guard let value = header(name) else { return "" }
                guard isLabel(value) else {
                    if !speaksOurs { return "" }
                    throw ClusterFrame.Malformed(description: "\(shown) must be printable ASCII of at most \(maxLabelBytes) bytes")
                }
                return value
            }
            hostname = try label(Header.hostname, "Gatehouse-Hostname")
            gatehouseVersion = try label(Header.gatehouseVersion, "Gatehouse-Version")
            guard speaksOurs else {
                (policyTypes, configVersion, configHash, configEpoch, acceptsDeltas) = ([], nil, nil, nil, false)
                return
            }
            switch header(Header.deltas) {
            case nil: acceptsDeltas = false
            case "1": acceptsDeltas = true
            default: throw ClusterFrame.Malformed(description: "Gatehouse-Deltas must be 1 when given")
            }
            let types = (header(Header.policyTypes) ?? "").split(separator: ",", omittingEmptySubsequences: true).map(String.init)
            guard types.count <= maxPolicyTypes, types.allSatisfy({ $0.utf8.count <= 64 && EntityName.isToken($0) }) else {
                throw ClusterFrame.Malformed(description: "Gatehouse-Policy-Types must list at most \(maxPolicyTypes) policy type names")
            }
            policyTypes = types
            switch (header(Header.configVersion), header(Header.configHash)) {
            case (nil, nil):
                guard header(Header.configEpoch) == nil else {
                    throw ClusterFrame.Malformed(description: "Gatehouse-Config-Epoch needs Gatehouse-Config-Version and Gatehouse-Config-Hash")
                }
                (configVersion, configHash, configEpoch) = (nil, nil, nil)
            case (let versionText?, let hash?):
                guard let version = ClusterProtocol.version(text: versionText) else {
                    throw ClusterFrame.Malformed(description: "Gatehouse-Config-Version must be \(versionRange)")
                }
                guard isHexDigest(hash) else { throw ClusterFrame.Malformed(description: "Gatehouse-Config-Hash must be 64 lowercase hex digits") }
                let epoch = header(Header.configEpoch)
                if let epoch, !isEpoch(epoch) { throw ClusterFrame.Malformed(description: "Gatehouse-Config-Epoch must be a lowercase UUID") }
                (configVersion, configHash, configEpoch) = (version, hash, epoch)
            default:
                throw ClusterFrame.Malformed(description: "Gatehouse-Config-Version and Gatehouse-Config-Hash go together")
            }
        }
    }
}
