import GatehouseModel
import NIOCore

/// A `response-transformer` policy compiled: what it does to the headers of the upstream's
/// responses. The gateway's own answers (401, 403, 429, 404, 502…) are left as documented:
/// their fields are the gateway's contract with clients, not the upstream's. Immutable.
public final class ResponseTransformPolicy: Sendable {
    public let name: String
    let headers: HeaderOperations
    /// The fields of an upstream's head the copy leaves out, compared in place per field.
    let replaced: FieldNameSet
    let renameSources: FieldNameSet
    /// The upstream's own fields of a rename's new name are replaced when it renames something.
    let renameTargets: FieldNameSet

    init(name: String, config: JSONValue) {
        self.name = name
        let operations = HeaderOperations(config, target: "headers")
        headers = operations
        replaced = FieldNameSet(operations.replaced)
        let renames = operations.rename.filter { operations.renames($0.from) }
        renameSources = FieldNameSet(renames.map(\.from))
        renameTargets = FieldNameSet(renames.map(\.to))
        addNames = operations.add.map { FieldNameSet([$0.name]) }
    }

    /// Each `add` name as a set of one, to look for it in an upstream's head in place.
    private let addNames: [FieldNameSet]

    /// Whether the head carries a field this policy renames.
    func renamesSomething(in head: UpstreamResponseHead) -> Bool {
        guard !headers.rename.isEmpty else { return false }
        return head.bytes.withUnsafeReadableBytes { raw in
            head.fields.contains { field in
                field.forwarded && renameSources.contains(UnsafeRawBufferPointer(rebasing: raw[field.name]).assumingMemoryBound(to: UInt8.self))
            }
        }
    }

    /// Whether the copy of the upstream's head leaves out the field `name`.
    func leavesOut(_ name: UnsafeRawBufferPointer, renaming: Bool) -> Bool {
        let bytes = name.assumingMemoryBound(to: UInt8.self)
        return replaced.contains(bytes) || (renaming && renameTargets.contains(bytes))
    }

    /// The values `set` and `add` write for one request, worked out when its head arrives (the
    /// consumer and the captures are known then); the response only copies them.
    struct Values {
        let set: [(String, String)]
        let add: [(String, String)]
    }

    func values(_ context: TransformContext, dropped: (PolicyMetrics.Reason) -> Void) -> Values {
        func resolve(_ list: [(name: String, value: TransformValue)]) -> [(String, String)] {
            list.compactMap { name, value in
                switch value.resolve(context) {
                case .value(let text): return (name, text)
                case .missing:
                    dropped(.valueMissing)
                    return nil
                case .refused:
                    dropped(.valueRefused)
                    return nil
                }
            }
        }
        return Values(set: resolve(headers.set), add: resolve(headers.add))
    }

    /// Writes the transformed fields of `head` (after its forwarded ones, which the copy wrote
    /// without those this policy replaces): renamed values under their new names, then `set`,
    /// then `add` where the response lacks the field.
    func write(_ head: UpstreamResponseHead, values: Values, into buffer: inout ByteBuffer) {
        var renamed: [String] = []
        if !headers.rename.isEmpty {
            head.bytes.withUnsafeReadableBytes { raw in
                for field in head.fields where field.forwarded {
                    let name = UnsafeRawBufferPointer(rebasing: raw[field.name])
                    guard renameSources.contains(name.assumingMemoryBound(to: UInt8.self)) else { continue }
                    let lowered = String(decoding: name.map(UpstreamResponseHead.lowered), as: UTF8.self)
                    guard let rename = headers.rename.first(where: { $0.from == lowered }), headers.renames(rename.from) else { continue }
                    var start = field.name.upperBound + 1
                    while start < field.line.upperBound, raw[start] == UInt8(ascii: " ") || raw[start] == UInt8(ascii: "\t") { start += 1 }
                    let value = String(decoding: UnsafeRawBufferPointer(rebasing: raw[start..<field.line.upperBound]), as: UTF8.self)
                    buffer.writeField(rename.to, value)
                    renamed.append(rename.to)
                }
            }
        }
        for (name, value) in values.set { buffer.writeField(name, value) }
        for (name, value) in values.add {
            if renamed.contains(name) || values.set.contains(where: { $0.0 == name }) { continue }
            if !headers.replaced.contains(name), !(renamesSomething(in: head) && renameTargets.contains(name)),
                let index = headers.add.firstIndex(where: { $0.name == name }), has(head, addNames[index])
            {
                continue
            }
            buffer.writeField(name, value)
        }
    }

    /// Whether the upstream's head forwards a field named as `wanted`'s one member.
    private func has(_ head: UpstreamResponseHead, _ wanted: FieldNameSet) -> Bool {
        head.bytes.withUnsafeReadableBytes { raw in
            head.fields.contains { field in
                field.forwarded && wanted.contains(UnsafeRawBufferPointer(rebasing: raw[field.name]).assumingMemoryBound(to: UInt8.self))
            }
        }
    }
}
