import GatehouseHTTP1
import GatehouseModel
import NIOHTTP1

/// Where a token policy reads its token: `Authorization: Bearer` or another header, else a
/// query parameter, else a cookie. Immutable.
struct TokenLocation: Sendable {
    let header: String
    let queryParameter: String?
    let cookie: String?
    let maxTokenBytes: Int

    init(_ config: JSONValue) {
        header = config["header"]?.stringValue ?? "authorization"
        queryParameter = config["query_parameter"]?.stringValue
        cookie = config["cookie"]?.stringValue
        maxTokenBytes = config["max_token_bytes"]?.intValue ?? 8_192
    }

    func find(headers: RequestFields, query: Substring?) -> Substring? {
        if let value = headers.first(name: header), !value.isEmpty {
            guard header == "authorization" else { return value[...] }
            return Self.bearerToken(value)
        }
        if let queryParameter, let query, let value = KeyAuthPolicy.parameter(queryParameter, in: query), !value.isEmpty { return value }
        if let cookie {
            for line in headers[name: "cookie"] {
                for pair in line.split(separator: ";") {
                    let trimmed = pair.drop { $0 == " " }
                    if trimmed.hasPrefix(cookie + "="), trimmed.count > cookie.count + 1 { return trimmed.dropFirst(cookie.count + 1) }
                }
            }
        }
        return nil
    }

    /// The token of `Bearer <token>`, the scheme in any case (RFC 6750 §2.1). Read as bytes: on
    /// every request, a few hundred of them.
    static func bearerToken(_ value: String) -> Substring? {
        let bytes = value.utf8
        var index = bytes.startIndex
        for expected in "bearer".utf8 {
            guard index != bytes.endIndex, bytes[index] | 0x20 == expected else { return nil }
            index = bytes.index(after: index)
        }
        guard index != bytes.endIndex, bytes[index] == UInt8(ascii: " ") else { return nil }
        while index != bytes.endIndex, bytes[index] == UInt8(ascii: " ") { index = bytes.index(after: index) }
        var end = bytes.endIndex
        while end > index, bytes[bytes.index(before: end)] == UInt8(ascii: " ") { end = bytes.index(before: end) }
        return index == end ? nil : value[index..<end]
    }
}
