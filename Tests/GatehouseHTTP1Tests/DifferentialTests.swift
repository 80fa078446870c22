import Foundation
import GatehouseHTTP1
import GatehouseParserOracle
import Testing

/// The parser beside llhttp on the seed corpus and on inputs made from it: for every input,
/// both accept and agree, or both refuse, or Gatehouse refuses for a listed reason
/// (`RequestParseError.isStricterThanLLHTTP`, docs/routing.md). Deterministic: the mutations come
/// from a fixed seed. `bench/fuzz-parser.sh` runs libFuzzer on the same check for ten million inputs.
@Suite struct DifferentialTests {
    static let corpus: [(name: String, bytes: [UInt8])] = {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/parser-corpus")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".http") }.sorted()
        return names.map { ($0, Array(FileManager.default.contents(atPath: directory.appendingPathComponent($0).path) ?? Data())) }
    }()

    @Test func everySeedAgreesWithLLHTTP() {
        #expect(Self.corpus.count >= 60)
        for seed in Self.corpus {
            let verdict = ParserOracle.compare(seed.bytes)
            if case .disagree(let why) = verdict { Issue.record("\(seed.name): \(why)") }
            if ProcessInfo.processInfo.environment["PARSER_VERDICTS"] != nil { print("\(seed.name): \(verdict)") }
        }
    }

    /// The seeds llhttp accepts that Gatehouse refuses, and why: the list docs/routing.md explains.
    @Test func theSeedsRefusedWhereLLHTTPAcceptsAreTheListedOnes() {
        var stricter: [String: RequestParseError.Reason] = [:]
        for seed in Self.corpus {
            if case .stricter(let reason) = ParserOracle.compare(seed.bytes) { stricter[seed.name] = reason }
        }
        #expect(stricter.values.allSatisfy { RequestParseError(reason: $0).isStricterThanLLHTTP })
        // Smuggling vectors llhttp lets through are among them.
        #expect(stricter["chunk-ext.http"] == .chunkExtension)
        // Refused sooner than llhttp would: at the second Content-Length's name, before its value came.
        #expect(stricter["duplicate-content-length-cut-at-value.http"] == .duplicateContentLength)
    }

    /// A few seconds of mutation: bytes flipped, inserted and removed, tokens of the smuggling
    /// literature spliced in, seeds joined.
    @Test func mutatedInputsAgreeWithLLHTTP() {
        // PARSER_MUTATIONS and PARSER_SEED explore further by hand; the suite runs the fixed ones.
        let environment = ProcessInfo.processInfo.environment
        var random = SplitMix(seed: environment["PARSER_SEED"].flatMap { UInt64($0) } ?? 0x6761_7465_686f_7573)
        var counts: [String: Int] = [:]
        var disagreements: [String] = []
        for _ in 0..<(environment["PARSER_MUTATIONS"].flatMap { Int($0) } ?? 20_000) {
            var input = Self.corpus[Int(random.next() % UInt64(Self.corpus.count))].bytes
            for _ in 0...(random.next() % 4) { Mutation.apply(&input, &random, corpus: Self.corpus.map(\.bytes)) }
            switch ParserOracle.compare(input) {
            case .agree: counts["agree", default: 0] += 1
            case .stricter(let reason): counts["\(reason)", default: 0] += 1
            case .disagree(let why):
                if disagreements.count < 5 { disagreements.append("\(input.debugText): \(why)") }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.joined(separator: "\n\n"))")
        #expect(counts["agree", default: 0] > 5_000, "\(counts)")
    }
}

extension RequestParseError {
    init(reason: Reason) { self.init(reason, at: 0) }
}

/// A fixed-seed generator: the same mutations on every run.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Mutation {
    static let bytes: [UInt8] = Array("\r\n \t:;,0123456789abcdefABCDEF-+#?/*\"".utf8) + [0, 0x7F, 0x80, 0xFF, 0x0B, 0x0C]
    static let tokens: [[UInt8]] = [
        "\r\n", "\r\n\r\n", "Transfer-Encoding: chunked\r\n", "Content-Length: 5\r\n", "Content-Length: 0\r\n", " chunked", "chunked",
        "\r\n ", "0\r\n\r\n", "5\r\nhello\r\n", "Connection: upgrade\r\nUpgrade: x\r\n", "Transfer-Encoding: identity\r\n", "HTTP/1.0",
        "HTTP/1.1", ";ext=1", "Host: a\r\n", "GET / HTTP/1.1\r\n", "Expect: 100-continue\r\n", "\n", "\r", ", ",
    ].map { Array($0.utf8) }

    static func apply(_ input: inout [UInt8], _ random: inout SplitMix, corpus: [[UInt8]]) {
        let at = input.isEmpty ? 0 : Int(random.next() % UInt64(input.count + 1))
        switch random.next() % 6 {
        case 0 where at < input.count: input[at] = bytes[Int(random.next() % UInt64(bytes.count))]
        case 1: input.insert(bytes[Int(random.next() % UInt64(bytes.count))], at: at)
        case 2 where at < input.count: input.removeSubrange(at..<min(input.count, at + 1 + Int(random.next() % 4)))
        case 3: input.insert(contentsOf: tokens[Int(random.next() % UInt64(tokens.count))], at: at)
        case 4: input = Array(input[..<at]) + corpus[Int(random.next() % UInt64(corpus.count))]
        default:
            if at < input.count { input[at] ^= 1 << (random.next() % 8) }
        }
    }
}

extension [UInt8] {
    var debugText: String { String(decoding: self, as: UTF8.self).debugDescription }
}
