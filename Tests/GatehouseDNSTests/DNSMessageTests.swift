import GatehouseTestSupport
import NIOCore
import Testing

@testable import GatehouseDNS

@Suite struct DNSMessageTests {
    static func bytes(_ hex: String) -> [UInt8] { hexBytes(hex) }

    @Test func aQueryIsOneRecursiveQuestion() {
        let query = DNSMessage.query(id: 0x04D2, name: "api.test", type: .a)
        #expect(query == Self.bytes("04d2010000010000000000000361706904746573740000010001"))
    }

    // Answers captured from dnsmasq 2.90.
    @Test func anAliasChainIsParsedWithItsCompressedNames() throws {
        let message = try DNSMessage.parse(
            Self.bytes(
                "04d28580000100020000000005616c69617304746573740000010001c00c0005000100000001000a03617069047465737400c028000100010000000100047f000001"
            ))
        #expect(message.id == 0x04D2)
        #expect(message.questionName == "alias.test")
        #expect(message.answers.map(\.data) == [.alias("api.test"), .address("127.0.0.1")])
        #expect(message.answers.map(\.name) == ["alias.test", "api.test"])
        #expect(message.answers.map(\.ttl) == [1, 1])
    }

    @Test func serviceRecordsComeWithTheirAdditionalAddresses() throws {
        let message = try DNSMessage.parse(
            Self.bytes(
                "04d285800001000100000001045f617069045f7463700373766304746573740000210001c00c002100010000000100100000000a1f9103617069047465737400c036000100010000000100047f000001"
            ))
        #expect(message.answers.map(\.data) == [.service(priority: 0, weight: 10, port: 8081, target: "api.test")])
        #expect(message.additional.map(\.data) == [.address("127.0.0.1")])
        #expect(message.additional.map(\.name) == ["api.test"])
    }

    @Test func aNameErrorIsAnAnswerWithoutRecords() throws {
        let message = try DNSMessage.parse(Self.bytes("04d281830001000000000000046e6f706504746573740000010001"))
        #expect(message.responseCode == DNSMessage.nameError)
        #expect(message.answers.isEmpty)
    }

    @Test func ipv6AddressesAreWrittenInTheirShortestForm() throws {
        var response = Self.bytes("04d28180000100010000000003617069047465737400001c0001c00c001c00010000003c0010")
        response += [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01]
        #expect(try DNSMessage.parse(response).answers.map(\.data) == [.address("2001:db8::1")])
    }

    @Test func aCompressionLoopOrATruncatedRecordIsRefused() {
        // An answer whose name points at itself.
        let loop = Self.bytes("04d2818000010001000000000361706904746573740000010001c01a000100010000000100047f000001")
        #expect(throws: DNSMessage.ParseError.self) { try DNSMessage.parse(loop) }
        let selfPointer = Self.bytes("04d281800001000000000000c00c00010001")
        #expect(throws: DNSMessage.ParseError.self) { try DNSMessage.parse(selfPointer) }
        let cut = Self.bytes("04d2858000010001000000000361706904746573740000010001c00c000100010000000100047f00")
        #expect(throws: DNSMessage.ParseError.self) { try DNSMessage.parse(cut) }
        // A query is not an answer.
        #expect(throws: DNSMessage.ParseError.self) { try DNSMessage.parse(DNSMessage.query(id: 1, name: "api.test", type: .a)) }
    }

    @Test func aTruncatedAnswerIsFlaggedAndNotRead() throws {
        let message = try DNSMessage.parse(Self.bytes("04d2878000010005000000000361706904746573740000010001c00c"))
        #expect(message.truncated)
        #expect(message.answers.isEmpty)
    }

    @Test func resolvConfAndHostsFilesAreRead() {
        let servers = SystemResolverFiles.nameServers(
            resolvConf: "# comment\nsearch svc.local\nnameserver 10.0.0.2\nnameserver ::1\noptions ndots:5\n")
        #expect(servers.map { "\($0.ipAddress!):\($0.port!)" } == ["10.0.0.2:53", "::1:53"])
        let hosts = SystemResolverFiles.hosts("127.0.0.1 localhost Local # me\n::1 localhost ip6-localhost\nbad line\n10.0.0.9\tdb\n")
        #expect(hosts["localhost"] == ["127.0.0.1", "::1"])
        #expect(hosts["local"] == ["127.0.0.1"])
        #expect(hosts["db"] == ["10.0.0.9"])
        #expect(hosts["line"] == nil)
    }
}
