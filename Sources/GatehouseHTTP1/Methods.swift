import NIOHTTP1

/// The methods the parser accepts: llhttp's HTTP methods (its RTSP ones left out), matched by
/// their bytes.
enum Methods {
    private static let names: [(String, HTTPMethod)] = [
        ("GET", .GET), ("POST", .POST), ("PUT", .PUT), ("DELETE", .DELETE), ("HEAD", .HEAD), ("OPTIONS", .OPTIONS), ("PATCH", .PATCH),
        ("TRACE", .TRACE), ("CONNECT", .CONNECT), ("COPY", .COPY), ("LOCK", .LOCK), ("MKCOL", .MKCOL), ("MOVE", .MOVE),
        ("PROPFIND", .PROPFIND), ("PROPPATCH", .PROPPATCH), ("SEARCH", .SEARCH), ("UNLOCK", .UNLOCK), ("BIND", .BIND),
        ("REBIND", .REBIND), ("UNBIND", .UNBIND), ("ACL", .ACL), ("REPORT", .REPORT), ("MKACTIVITY", .MKACTIVITY),
        ("CHECKOUT", .CHECKOUT), ("MERGE", .MERGE), ("M-SEARCH", .MSEARCH), ("NOTIFY", .NOTIFY), ("SUBSCRIBE", .SUBSCRIBE),
        ("UNSUBSCRIBE", .UNSUBSCRIBE), ("PURGE", .PURGE), ("MKCALENDAR", .MKCALENDAR), ("LINK", .LINK), ("UNLINK", .UNLINK),
        ("SOURCE", .SOURCE), ("QUERY", .RAW(value: "QUERY")),
    ]
    private static let known: [(name: [UInt8], method: HTTPMethod)] = names.map { (Array($0.0.utf8), $0.1) }

    static func method(_ bytes: UnsafeRawBufferPointer) -> HTTPMethod? {
        // The common ones first, without the table.
        if bytes.count == 3, bytes[0] == UInt8(ascii: "G"), bytes[1] == UInt8(ascii: "E"), bytes[2] == UInt8(ascii: "T") { return .GET }
        for entry in known where entry.name.count == bytes.count && entry.name.elementsEqual(bytes) { return entry.method }
        return nil
    }

    /// HTTP/2's connection preface starts as a request line with this method (RFC 9113 §3.4).
    static let preface: [UInt8] = Array("PRI".utf8)
    /// llhttp reads RTSP's methods in HTTP requests too, and refuses them only at the version.
    static let rtsp: [[UInt8]] = [
        "DESCRIBE", "ANNOUNCE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER", "REDIRECT", "RECORD", "FLUSH",
    ].map { Array($0.utf8) }
    private static let prefixes = known.map(\.name) + [preface] + rtsp

    /// Whether `bytes` can still become a method llhttp reads.
    static func isPrefix(_ bytes: UnsafeRawBufferPointer) -> Bool {
        prefixes.contains { $0.count >= bytes.count && $0.prefix(bytes.count).elementsEqual(bytes) }
    }
}
