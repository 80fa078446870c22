import CZlib
import GatehouseModel

/// The unit of the control plane's stream to a data plane: a message, zlib-compressed, after an
/// 8-byte header (compressed length, then original length, both big-endian UInt32). A message is
/// a JSON object on one line, then, for a snapshot, a newline and the document's canonical JSON
/// as it was hashed, so neither side serializes the document again. A snapshot is compressed once
/// per version and the same bytes go to every data plane.
public enum ClusterFrame {
    /// One message: its JSON header, and the bytes after it (empty but for snapshots).
    public struct Message: Sendable {
        public var header: JSONValue
        public var body: ArraySlice<UInt8>
        /// For a frame over the limit: the size it announced. Only its header was inflated, from
        /// the first bytes; the rest was passed over unread and `body` is empty.
        public var tooLarge: Int?

        public init(header: JSONValue, body: ArraySlice<UInt8>, tooLarge: Int? = nil) {
            self.header = header
            self.body = body
            self.tooLarge = tooLarge
        }
    }

    public struct Malformed: Error, CustomStringConvertible {
        public let description: String
    }

    /// The largest message a data plane accepts by default (uncompressed), as large as the admin
    /// API's `PUT /config` body: a config of a hundred thousand routes or more. An operator with a
    /// larger one raises it (`--cluster-max-frame-size`).
    public static let defaultMaxMessageBytes = 64 << 20
    /// No zlib stream inflates more than 1032 times its size (a 258-byte match in two bits), so a
    /// frame announcing more is refused before anything is allocated for it.
    static let maxInflation = 1032

    public static func encode(_ header: JSONValue, body: [UInt8] = []) -> [UInt8] {
        var raw = header.canonicalBytes
        if !body.isEmpty {
            raw.append(0x0A)
            raw += body
        }
        var compressed = [UInt8](repeating: 0, count: czlib_bound(raw.count))
        let size = raw.withUnsafeBufferPointer { source in
            compressed.withUnsafeMutableBufferPointer { czlib_compress(source.baseAddress, raw.count, $0.baseAddress, $0.count) }
        }
        precondition(size > 0, "zlib's bound was too small")
        var frame: [UInt8] = []
        frame.reserveCapacity(8 + size)
        for value in [UInt32(size), UInt32(raw.count)] {
            frame += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
        frame += compressed[0..<size]
        return frame
    }

    /// Splits a byte stream into messages; bytes may arrive in any pieces. A frame is inflated only
    /// once all its compressed bytes are in, into at most `maxMessageBytes`: what a frame announces
    /// is checked against that limit, and against what its compressed length can hold, first. A
    /// frame over the limit is not read: its header line is inflated from its first bytes (so the
    /// data plane can say which version it refused) and the rest is passed over as it arrives; a
    /// frame whose header cannot be read that way is refused.
    public struct Decoder: Sendable {
        private var pending: [UInt8] = []
        /// Compressed bytes of a frame over the limit still to pass over.
        private var skipping = 0
        public let maxMessageBytes: Int
        /// The most of an over-limit frame looked at for its header line, compressed and inflated.
        static let headerPrefix = 64 << 10
        static let maxHeaderBytes = 4 << 10

        public init(maxMessageBytes: Int = ClusterFrame.defaultMaxMessageBytes) {
            self.maxMessageBytes = maxMessageBytes
        }

        public mutating func feed(_ bytes: some Sequence<UInt8>) throws(Malformed) -> [Message] {
            pending += bytes
            var messages: [Message] = []
            while true {
                if skipping > 0 {
                    let passed = min(skipping, pending.count)
                    pending.removeFirst(passed)
                    skipping -= passed
                    if skipping > 0 { break }
                }
                guard pending.count >= 8 else { break }
                let compressed = Int(Self.u32(pending, 0))
                let original = Int(Self.u32(pending, 4))
                let possible = compressed > 0 && compressed <= czlib_bound(original) && original <= compressed * ClusterFrame.maxInflation
                guard original <= maxMessageBytes else {
                    guard possible else { throw Self.overLimit(announced: original, limit: maxMessageBytes) }
                    let prefix = min(compressed, Self.headerPrefix)
                    guard pending.count >= 8 + prefix else { break }
                    messages.append(try Self.headerOnly(pending[8..<8 + prefix], announced: original, limit: maxMessageBytes))
                    let passed = min(pending.count - 8, compressed)
                    pending.removeFirst(8 + passed)
                    skipping = compressed - passed
                    continue
                }
                guard possible else {
                    throw Malformed(description: "a frame announces \(compressed) compressed bytes for \(original): no zlib stream has that ratio")
                }
                guard pending.count >= 8 + compressed else { break }
                var raw = [UInt8](repeating: 0, count: original)
                let ok = pending.withUnsafeBufferPointer { source in
                    raw.withUnsafeMutableBufferPointer { czlib_uncompress(source.baseAddress! + 8, compressed, $0.baseAddress, original) }
                }
                guard ok == 1 else { throw Malformed(description: "a frame does not inflate to its announced length") }
                pending.removeFirst(8 + compressed)
                let newline = raw.firstIndex(of: 0x0A) ?? raw.endIndex
                do {
                    messages.append(Message(header: try JSONValue.parse(raw[..<newline]), body: raw[min(newline + 1, raw.endIndex)...]))
                } catch {
                    throw Malformed(description: "a frame's header is not JSON: \(error)")
                }
            }
            return messages
        }

        static func overLimit(announced: Int, limit: Int) -> Malformed {
            Malformed(
                description:
                    "a frame announces \(announced) bytes uncompressed, over this data plane's limit of \(limit) (--cluster-max-frame-size, GATEHOUSE_CLUSTER_MAX_FRAME_SIZE); raise it if the config is that large")
        }

        /// The header line of a frame over the limit, from its first compressed bytes.
        private static func headerOnly(_ prefix: ArraySlice<UInt8>, announced: Int, limit: Int) throws(Malformed) -> Message {
            var raw = [UInt8](repeating: 0, count: maxHeaderBytes)
            let produced = prefix.withUnsafeBufferPointer { source in
                raw.withUnsafeMutableBufferPointer { czlib_uncompress_prefix(source.baseAddress, source.count, $0.baseAddress, $0.count) }
            }
            guard produced > 0, let newline = raw[..<Int(produced)].firstIndex(of: 0x0A), let header = try? JSONValue.parse(raw[..<newline]) else {
                throw overLimit(announced: announced, limit: limit)
            }
            return Message(header: header, body: [], tooLarge: announced)
        }

        private static func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
            UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
        }
    }
}
