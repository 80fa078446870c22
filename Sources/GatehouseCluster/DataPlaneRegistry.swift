import Foundation
import GatehouseModel
import Synchronization

/// What the control plane knows of each data plane: who it is, what it serves, what it refused,
/// and when it was last heard from. Entries of data planes not heard from for `purgeDelay` are
/// removed. Thread-safe.
public final class DataPlaneRegistry: Sendable {
    public struct Entry: Sendable {
        public var hello: ClusterProtocol.Hello
        public var connected = false
        public var configVersion: Int?
        public var configHash: String?
        /// The epoch of the snapshot it serves, when it said.
        public var configEpoch: String?
        public var rejection: (version: Int, epoch: String?, reason: String)?
        /// Set when its protocol version is not one this control plane speaks.
        public var incompatible: String?
        public var lastSeen: Date
        /// From the commit of the version it serves to its ACK, when known.
        public var applyLatency: Duration?
    }

    private let entries = Mutex<[String: Entry]>([:])
    public let purgeDelay: Duration
    private let now: @Sendable () -> Date
    private let committedAt: @Sendable (Int) -> ContinuousClock.Instant?

    /// - Parameter committedAt: when a version was committed, to time each data plane's ACK.
    public init(
        purgeDelay: Duration = .seconds(3600), now: @escaping @Sendable () -> Date = Date.init,
        committedAt: @escaping @Sendable (Int) -> ContinuousClock.Instant? = { _ in nil }
    ) {
        self.purgeDelay = purgeDelay
        self.now = now
        self.committedAt = committedAt
    }

    /// A data plane opened its stream (or was refused as incompatible).
    public func connected(_ hello: ClusterProtocol.Hello, incompatible: String? = nil) {
        let time = now()
        entries.withLock { entries in
            var entry = entries[hello.nodeID] ?? Entry(hello: hello, lastSeen: time)
            entry.hello = hello
            entry.connected = incompatible == nil
            entry.incompatible = incompatible
            entry.lastSeen = time
            if let version = hello.configVersion {
                entry.configVersion = version
                entry.configHash = hello.configHash
                entry.configEpoch = hello.configEpoch
            }
            entries[hello.nodeID] = entry
        }
    }

    public func disconnected(_ nodeID: String) {
        let time = now()
        entries.withLock { entries in
            entries[nodeID]?.connected = false
            entries[nodeID]?.lastSeen = time
        }
    }

    /// Records an ACK, a NACK or a heartbeat (checked in form and range as it was read). False for
    /// a node that never said hello.
    @discardableResult
    public func record(_ report: ClusterProtocol.Report) -> Bool {
        let time = now()
        return entries.withLock { entries in
            guard var entry = entries[report.nodeID] else { return false }
            entry.lastSeen = time
            switch report.kind {
            case .applied:
                if entry.configVersion != report.version {
                    entry.applyLatency = report.version.flatMap(committedAt).map { ContinuousClock.now - $0 }
                }
                entry.configVersion = report.version
                entry.configHash = report.hash
                entry.configEpoch = report.epoch
                entry.rejection = nil
            case .rejected:
                if let version = report.version { entry.rejection = (version, report.epoch, report.reason ?? "no reason given") }
            case .heartbeat:
                break
            }
            entries[report.nodeID] = entry
            return true
        }
    }

    /// Every data plane heard from within the purge delay, by id.
    public func list() -> [Entry] {
        let time = now()
        let cutoff = time.addingTimeInterval(-Double(purgeDelay.components.seconds))
        return entries.withLock { entries in
            entries = entries.filter { $0.value.connected || $0.value.lastSeen >= cutoff }
            return entries.values.sorted { $0.hello.nodeID < $1.hello.nodeID }
        }
    }

    /// The admin API's view: `status` is `in_sync`, `behind`, `rejected` or `incompatible`. A
    /// data plane serving a snapshot of another epoch than `currentEpoch` is not in sync whatever
    /// its version: that history is not the control plane's.
    public func json(currentVersion: Int?, currentEpoch: String? = nil) -> JSONValue {
        .array(
            list().map { entry in
                let status: String
                let otherHistory = currentEpoch != nil && entry.configEpoch != currentEpoch
                if entry.incompatible != nil {
                    status = "incompatible"
                } else if let rejection = entry.rejection,
                    rejection.version > (entry.configVersion ?? -1) || (rejection.epoch != nil && rejection.epoch != entry.configEpoch)
                {
                    status = "rejected"
                } else if let current = currentVersion, entry.configVersion ?? -1 < current || otherHistory {
                    status = "behind"
                } else {
                    status = "in_sync"
                }
                // Received versions are checked on arrival; the subtraction is checked anyway.
                let difference = (currentVersion ?? 0).subtractingReportingOverflow(entry.configVersion ?? 0)
                let behind = difference.overflow ? 0 : max(0, difference.partialValue)
                return [
                    "id": .string(entry.hello.nodeID), "hostname": .string(entry.hello.hostname),
                    "gatehouse_version": .string(entry.hello.gatehouseVersion), "config_version": entry.configVersion.map(JSONValue.int) ?? .null,
                    "config_hash": entry.configHash.map(JSONValue.string) ?? .null, "config_epoch": entry.configEpoch.map(JSONValue.string) ?? .null,
                    "status": .string(status), "connected": .bool(entry.connected), "behind": .int(behind),
                    "error": entry.incompatible.map(JSONValue.string) ?? entry.rejection.map { .string("version \($0.version): \($0.reason)") }
                        ?? .null,
                    "policy_types": .array(entry.hello.policyTypes.map(JSONValue.string)),
                    "last_seen": .int(Int(entry.lastSeen.timeIntervalSince1970)),
                    "apply_ms": entry.applyLatency.map { latency in
                        let milliseconds = Double(latency.components.seconds) * 1000 + Double(latency.components.attoseconds) / 1e15
                        return .double((milliseconds * 10).rounded() / 10)
                    } ?? .null,
                ]
            })
    }
}

extension DataPlaneRegistry {
    /// Each data plane's stream state, served version and refusal, for the control plane's
    /// `/metrics` (node ids are the data planes', bounded by the cluster; gone ones are purged).
    public func prometheusText(currentVersion: Int) -> String {
        let entries = list()
        var text = """
            # HELP gatehouse_data_plane_connected 1 while a data plane's stream is open.
            # TYPE gatehouse_data_plane_connected gauge

            """
        for entry in entries { text += "gatehouse_data_plane_connected{node=\"\(Self.labelValue(entry.hello.nodeID))\"} \(entry.connected ? 1 : 0)\n" }
        text += """
            # HELP gatehouse_data_plane_config_version The config version a data plane serves.
            # TYPE gatehouse_data_plane_config_version gauge

            """
        for entry in entries { text += "gatehouse_data_plane_config_version{node=\"\(Self.labelValue(entry.hello.nodeID))\"} \(entry.configVersion ?? 0)\n" }
        text += """
            # HELP gatehouse_data_plane_rejecting 1 when a data plane refused the current version.
            # TYPE gatehouse_data_plane_rejecting gauge

            """
        for entry in entries {
            text += "gatehouse_data_plane_rejecting{node=\"\(Self.labelValue(entry.hello.nodeID))\"} \(entry.rejection?.version == currentVersion ? 1 : 0)\n"
        }
        return text
    }

    private static func labelValue(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
