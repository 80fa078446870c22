import ArgumentParser
import Foundation
import GatehouseDeclarative
import GatehouseModel
import GatehouseProxy
import Logging

/// `gatehouse explain METHOD URL`: what the gateway would do with a request, before a client
/// (or a browser) finds out.
struct Explain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show which route a request matches (and why others do not), the policies that run, and the CORS answers a browser gets.",
        discussion: """
            Asks the control plane (POST /explain) about its current config, or with --file checks declarative files offline.
            Example: gatehouse explain PUT https://api.example.com/recipes/1 --origin https://www.example.com -H 'Content-Type: application/json'
            """
    )

    @Argument(help: "The request method.") var method: String
    @Argument(help: "The URL (http(s)://host/path?query), or a path with a Host header.") var url: String
    @Option(help: "The page's origin, to see the CORS answers.") var origin: String?
    @Option(name: [.customShort("H"), .customLong("header")], help: "A request header, 'Name: value' (repeatable).") var headers: [String] = []
    @Flag(help: "The page's fetch sends credentials (cookies, Authorization).") var withCredentials = false
    @Option(help: "The client's address as the data plane resolves it, to see ip-restriction's decision.") var clientIP: String?
    @Option(name: [.customShort("f"), .customLong("file")], help: "Declarative files or directories to explain against, offline.")
    var files: [String] = []
    @Flag(help: "Print the explanation as JSON.") var json = false
    @OptionGroup var target: AdminTarget

    func run() async throws {
        var body: [String: JSONValue] = ["method": .string(method), "url": .string(url), "with_credentials": .bool(withCredentials)]
        if let origin { body["origin"] = .string(origin) }
        if let clientIP { body["client_ip"] = .string(clientIP) }
        var headerFields: [String: JSONValue] = [:]
        for header in headers {
            guard let colon = header.firstIndex(of: ":") else { throw ValidationError("'\(header)' is not a header: use 'Name: value'") }
            headerFields[String(header[..<colon]).trimmingCharacters(in: .whitespaces).lowercased()] = .string(
                String(header[header.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        body["headers"] = .object(headerFields)
        let explanation: JSONValue
        if files.isEmpty {
            explanation = try await target.client.fetch("POST", "/explain", body: .object(body))
        } else {
            guard let document = try DeclarativeInput.checked(files, wholeDocument: true).document else { throw ExitCode(1) }
            do {
                explanation = try Explainer.explain(Snapshot(version: 0, document: document), body: .object(body))
            } catch let error as ConfigError {
                FileHandle.standardError.write(Data("error: \(error.field.map { "\($0): " } ?? "")\(error.message)\n".utf8))
                throw ExitCode(1)
            }
        }
        print(json ? String(decoding: explanation.prettyBytes, as: UTF8.self) : ExplanationText.render(explanation), terminator: json ? "\n" : "")
    }
}

/// The human form of an explanation.
enum ExplanationText {
    static func render(_ explanation: JSONValue) -> String {
        var out = ""
        let request = explanation["request"] ?? [:]
        out += "\(request["method"]?.stringValue ?? "") \(request["host"]?.stringValue ?? "")\(request["path"]?.stringValue ?? "")"
        out += "  (config version \(explanation["config_version"]?.intValue ?? 0))\n"
        if let route = explanation["route"], route != .null {
            out +=
                "route: \(route["name"]?.stringValue ?? "") → upstream '\(route["upstream"]?.stringValue ?? "")', forwarded as \(route["forwarded_path"]?.stringValue ?? "")\n"
        } else {
            out += "route: none\n"
        }
        for route in explanation["routes"]?.arrayValue ?? [] {
            out += "  \(route["matched"] == .bool(true) ? "✓" : "✗") \(route["name"]?.stringValue ?? ""): \(route["reason"]?.stringValue ?? "")\n"
        }
        if let others = explanation["other_routes"]?.intValue, others > 0 { out += "  … and \(others) more routes not listed\n" }
        let policies = explanation["policies"]?.arrayValue ?? []
        if !policies.isEmpty {
            out += "policies, in the order they run:\n"
            for (index, policy) in policies.enumerated() {
                out +=
                    "  \(index + 1). \(policy["phase"]?.stringValue ?? "")  \(policy["type"]?.stringValue ?? "") '\(policy["name"]?.stringValue ?? "")' (\(policy["scope"]?.stringValue ?? ""))\n"
            }
        }
        if let restriction = explanation["ip_restriction"] {
            out += "ip-restriction '\(restriction["policy"]?.stringValue ?? "")': "
            if let note = restriction["note"]?.stringValue {
                out += "\(note)\n"
            } else {
                out +=
                    "\(restriction["address"]?.stringValue ?? "") \(restriction["outcome"]?.stringValue ?? ""): \(restriction["reason"]?.stringValue ?? "")\n"
            }
        }
        if let auth = explanation["authentication"] {
            let policy = auth["policy"]?.stringValue ?? ""
            let consumer = auth["consumer"]?.stringValue.map { "consumer '\($0)'" }
            switch auth["outcome"]?.stringValue {
            case "identified" where auth["token"] != nil:
                let subject = auth["token"]?["subject"]?.stringValue.map { "'\($0)'" } ?? "no subject"
                out += "authentication: token of \(subject) (policy '\(policy)')\(consumer.map { ", \($0)" } ?? "")\n"
            case "identified": out += "authentication: key of \(consumer ?? "no consumer") (policy '\(policy)')\n"
            case "anonymous": out += "authentication: no valid credential; anonymous \(consumer ?? "consumer") (policy '\(policy)')\n"
            default:
                out += "authentication: 401 (\(auth["reason"]?.stringValue ?? ""))\n"
                for tried in auth["policies"]?.arrayValue ?? [] {
                    out += "  '\(tried["policy"]?.stringValue ?? "")': \(tried["reason"]?.stringValue ?? "")\n"
                }
            }
        }
        if let acl = explanation["authorization"] {
            out += "acl '\(acl["policy"]?.stringValue ?? "")' (\(acl["rule"]?.stringValue ?? "")): \(acl["outcome"]?.stringValue ?? "")"
            out += acl["reason"]?.stringValue.map { " (\($0))" } ?? ""
            out += "\n"
        }
        for key in ["request_transform", "response_transform"] {
            guard let transform = explanation[key] else { continue }
            out += "\(key.split(separator: "_").joined(separator: " ")) '\(transform["policy"]?.stringValue ?? "")':\n"
            for target in ["headers", "query"] {
                guard let ops = transform[target] else { continue }
                for name in ops["remove"]?.arrayValue ?? [] { out += "  remove \(target) \(name.stringValue ?? "")\n" }
                for (from, to) in (ops["rename"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                    out += "  rename \(target) \(from) → \(to.stringValue ?? "")\n"
                }
                for operation in ["set", "add"] {
                    for (name, value) in (ops[operation]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                        out += "  \(operation) \(target) \(name): \(value.stringValue ?? "(dropped: \(value["dropped"]?.stringValue ?? ""))")\n"
                    }
                }
            }
        }
        for limit in explanation["rate_limits"]?.arrayValue ?? [] {
            out +=
                "limit '\(limit["name"]?.stringValue ?? "")': \(limit["limit"]?.intValue ?? 0) per \(limit["per"]?.stringValue ?? ""), by \(limit["by"]?.stringValue ?? ""), \(limit["backend"]?.stringValue ?? "")\n"
        }
        if let cors = explanation["cors"], cors != .null {
            if let note = cors["note"]?.stringValue {
                out += "CORS: \(note)\n"
            } else {
                out +=
                    "CORS for origin \(cors["origin"]?.stringValue ?? ""): a browser \(cors["browser"] == "allowed" ? "ALLOWS" : "BLOCKS") this request\n"
                for problem in cors["problems"]?.arrayValue ?? [] { out += "  ✗ \(problem.stringValue ?? "")\n" }
                if let preflight = cors["preflight"] {
                    out += "  preflight: OPTIONS with \(headerLines(preflight["request"]).joined(separator: ", "))\n"
                    out += "    → 204\n" + headerLines(preflight["headers"]).map { "      \($0)\n" }.joined()
                } else {
                    out += "  no preflight (a simple request)\n"
                }
                out += "  actual response adds:\n" + headerLines(cors["actual"]?["headers"]).map { "      \($0)\n" }.joined()
            }
        }
        if let answer = explanation["answer"] {
            let status = answer["status"]?.intValue.map { "\($0) " } ?? ""
            out += "answer: \(status)\(answer["reason"]?.stringValue ?? "")\n"
        }
        return out
    }

    private static func headerLines(_ headers: JSONValue?) -> [String] {
        (headers?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.stringValue ?? "")" }
    }
}
