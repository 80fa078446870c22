import Foundation

/// Headless Chromium (Debian's package) loading a `TestUpstream`'s test page, which makes one
/// `fetch` as a browser would (CORS preflight and all) and prints how it ended.
public enum HeadlessBrowser {
    /// Loads the page and returns what its fetch ended with (`status:200 …` or `error:…`).
    public static func fetch(page: TestUpstream, url: String, method: String, headers: [String]) async throws -> String {
        let profile = try TemporaryDirectory()
        defer { profile.remove() }
        var query = URLComponents()
        query.queryItems =
            [URLQueryItem(name: "url", value: url), URLQueryItem(name: "method", value: method)]
            + headers.map { URLQueryItem(name: "h", value: $0) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile.path)",
            // Lets the page's fetch settle before the DOM is printed; pending network I/O holds virtual time.
            "--virtual-time-budget=10000", "--dump-dom", "http://\(page.target)/page?\(query.percentEncodedQuery ?? "")",
        ]
        let output = profile.file("dom.html")
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = FileHandle.nullDevice
        try process.run()
        _ = await process.exited()
        let dom = try String(contentsOfFile: output, encoding: .utf8)
        guard let start = dom.range(of: "<pre id=\"out\">"), let end = dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex) else {
            return dom
        }
        return String(dom[start.upperBound..<end.lowerBound])
    }
}
