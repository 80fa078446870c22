import ArgumentParser
import Foundation
import GatehouseModel

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The CLI's way to a control plane: its admin API (`--admin`, `GATEHOUSE_ADMIN_URL`), with
/// `GATEHOUSE_ADMIN_TOKEN` as a bearer token when set. The CLI never opens the database.
struct AdminClient {
    struct Failure: Error, CustomStringConvertible {
        enum Kind {
            /// Nothing was sent: the address is wrong, or nothing listens there.
            case unreachable
            /// The request may have been sent, and no answer came: the connection broke or
            /// timed out. A write may have been applied.
            case noAnswer
        }

        let kind: Kind
        let base: String
        let reason: String

        var description: String {
            switch kind {
            case .unreachable: "cannot reach the admin API at \(base): \(reason)"
            case .noAnswer: "no answer from the admin API at \(base): \(reason)"
            }
        }
    }

    struct Answer {
        var status: Int
        var json: JSONValue
        var version: Int?
    }

    let base: String
    let token: String?

    /// The CLI's subcommand (`sync`, `admin-token`, …).
    static var command: String { CommandLine.arguments.dropFirst().first { !$0.hasPrefix("-") } ?? "cli" }

    /// Failures that happen before a request is on the wire: connecting, resolving, TLS.
    private static let beforeSending: Set<URLError.Code> = [
        .badURL, .unsupportedURL, .cannotFindHost, .dnsLookupFailed, .cannotConnectToHost, .notConnectedToInternet,
        .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate, .serverCertificateNotYetValid,
        .serverCertificateHasUnknownRoot, .clientCertificateRejected, .clientCertificateRequired,
    ]

    func call(_ method: String, _ path: String, body: JSONValue? = nil, ifMatch: Int? = nil) async throws(Failure) -> Answer {
        guard let url = URL(string: base.hasSuffix("/") ? String(base.dropLast()) + path : base + path) else {
            throw Failure(kind: .unreachable, base: base, reason: "not a URL")
        }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = 120
        if let body {
            request.httpBody = Data(body.canonicalBytes)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let ifMatch { request.setValue("\"\(ifMatch)\"", forHTTPHeaderField: "If-Match") }
        if let token, !token.isEmpty { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        // Names the command, for the audit trail of the versions it makes (`via`).
        request.setValue("gatehouse/\(GatehouseVersion.current) (\(Self.command))", forHTTPHeaderField: "User-Agent")
        // A session of its own, so the request never goes out on a kept-alive connection: on
        // one that broke, libcurl sends it again on a new one, and a sync whose first attempt
        // was applied would then report the second's failure ("cannot reach") instead.
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch let error as URLError where Self.beforeSending.contains(error.code) {
            throw Failure(kind: .unreachable, base: base, reason: error.localizedDescription)
        } catch {
            throw Failure(kind: .noAnswer, base: base, reason: error.localizedDescription)
        }
        guard let http = response as? HTTPURLResponse else {
            throw Failure(kind: .noAnswer, base: base, reason: "the answer is not HTTP")
        }
        let json = data.isEmpty ? JSONValue.null : ((try? JSONValue.parse(data)) ?? .string(String(decoding: data, as: UTF8.self)))
        let version = (http.value(forHTTPHeaderField: "Gatehouse-Config-Version")).flatMap(Int.init)
        return Answer(status: http.statusCode, json: json, version: version)
    }

    /// For commands: the JSON of an answer with the `expected` status; anything else is printed
    /// and ends the command with status 1.
    func fetch(_ method: String, _ path: String, body: JSONValue? = nil, expected: Int = 200) async throws -> JSONValue {
        let answer: Answer
        do {
            answer = try await call(method, path, body: body)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
        guard answer.status == expected else {
            FileHandle.standardError.write(Data("error: \(Self.describe(answer))\n".utf8))
            throw ExitCode(1)
        }
        return answer.json
    }

    /// An error answer as one line: status, code, field and message.
    static func describe(_ answer: Answer) -> String {
        let error = answer.json["error"]
        var text = "the admin API answered \(answer.status)"
        if let code = error?["code"]?.stringValue { text += " \(code)" }
        if let field = error?["field"]?.stringValue { text += " (\(field))" }
        if let message = error?["message"]?.stringValue { text += ": \(message)" }
        return text
    }
}
