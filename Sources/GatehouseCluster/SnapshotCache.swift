import Foundation
import GatehouseModel

#if canImport(Glibc)
import Glibc
#endif

/// The data plane's last good snapshot on disk, so it can serve while the control plane is
/// unreachable. Written as part of applying a snapshot: a temporary file, fsync, rename over the
/// old one, fsync of the directory. The file is a JSON line with the epoch, version, hash and
/// signature the control plane sent, then the document's canonical JSON as it was hashed; it is
/// read back only when the signature is the cluster token's and the document matches the hash.
public struct SnapshotCache: Sendable {
    public struct Unusable: Error, CustomStringConvertible {
        public let description: String
    }

    public let directory: String
    var path: String { directory + "/snapshot.json" }

    public init(directory: String) {
        self.directory = directory
    }

    public func store(_ signed: SignedSnapshot) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let header: JSONValue = [
            "epoch": .string(signed.epoch), "version": .int(signed.snapshot.version), "hash": .string(signed.snapshot.hash),
            "signature": .string(signed.signature),
        ]
        let bytes = header.canonicalBytes + [0x0A] + signed.snapshot.canonicalJSON
        let temporary = path + ".tmp"
        try Self.writeSynced(bytes, to: temporary)
        guard rename(temporary, path) == 0 else { throw Unusable(description: "cannot rename \(temporary): \(String(cString: strerror(errno)))") }
        let handle = open(directory, O_RDONLY)
        if handle >= 0 {
            fsync(handle)
            close(handle)
        }
    }

    /// The cached snapshot; nil when there is none; throws when it is corrupt, signed with none
    /// of the cluster tokens (one of a rotation may have signed it), or does not match its hash.
    public func load(signers: [SnapshotSigner], maxBytes: Int = ClusterFrame.defaultMaxMessageBytes) throws(Unusable) -> SignedSnapshot? {
        var failure: Unusable?
        for signer in signers {
            do {
                return try load(signer: signer, maxBytes: maxBytes)
            } catch {
                failure = failure ?? error
            }
        }
        if let failure { throw failure }
        return nil
    }

    /// The cached snapshot; nil when there is none; throws when it is corrupt, not signed with
    /// this cluster token, or does not match its hash.
    public func load(signer: SnapshotSigner, maxBytes: Int = ClusterFrame.defaultMaxMessageBytes) throws(Unusable) -> SignedSnapshot? {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else { return nil }
        guard size <= maxBytes + 4096 else { throw Unusable(description: "\(path) is \(size) bytes, over the frame size limit of \(maxBytes)") }
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let bytes = [UInt8](data)
        do {
            guard let newline = bytes.firstIndex(of: 0x0A) else { throw Unusable(description: "\(path) lacks its header line") }
            // The header is read as a snapshot frame's, with the same checks, signature first.
            var header = try JSONValue.parse(bytes[..<newline])
            guard case .object(var fields) = header else { throw Unusable(description: "\(path): its header is not a JSON object") }
            guard fields["signature"] != nil else {
                throw Unusable(description: "\(path) has no signature (written by an older Gatehouse); it is not used")
            }
            fields["type"] = "snapshot"
            header = .object(fields)
            let message = ClusterFrame.Message(header: header, body: bytes[(newline + 1)...])
            guard case .snapshot(let signed) = try ClusterProtocol.incoming(message, signer: signer) else {
                throw Unusable(description: "\(path) holds no snapshot")
            }
            return signed
        } catch let error as Unusable {
            throw error
        } catch let error as ClusterFrame.Malformed {
            throw Unusable(description: "\(path): \(error.description)")
        } catch {
            throw Unusable(description: "\(path) cannot be read: \(error)")
        }
    }

    /// This data plane's id, made once and kept in the cache directory across restarts.
    public func nodeID() throws -> String {
        let file = directory + "/node-id"
        if let data = FileManager.default.contents(atPath: file) {
            let id = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !id.isEmpty, EntityName.isToken(id) { return id }
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let id = UUID().uuidString.lowercased()
        try Self.writeSynced(Array((id + "\n").utf8), to: file)
        return id
    }

    private static func writeSynced(_ bytes: [UInt8], to path: String) throws {
        let handle = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard handle >= 0 else { throw Unusable(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(handle) }
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { write(handle, $0.baseAddress, $0.count) }
            guard result > 0 else { throw Unusable(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
            written += result
        }
        guard fsync(handle) == 0 else { throw Unusable(description: "cannot sync \(path): \(String(cString: strerror(errno)))") }
    }
}
