import Testing

@testable import GatehouseProxy

/// The patterns matched without `Regex` answer as `Regex` does (differentially, over a set of
/// patterns and values), and the others are left to it.
@Suite struct SimplePatternTests {
    static let patterns = [
        "@", "abc", "", "-", "^[a-z]+$", "^[a-z0-9-]+$", "^[A-Z]{2}$", "^[A-Z]{2,3}$", "^[0-9a-fA-F]{8}$", "^[-a]*$", "^[a-]+$",
        "^[ .,]{0,2}$", "^[$(|)]+$",
    ]
    static let values = [
        "", "a", "abc", "xabcx", "ABC", "AB", "A", "ABCD", "0123abcd", "0123abcg", "a-b-c", "a_b", "-", "--a", "é", "aé", "a b", " .",
        "@", "x@y", "$(|)", "ab\u{0}", "abc\n", "ＡＢ",
    ]

    @Test func answersAsRegexDoes() throws {
        for pattern in Self.patterns {
            let simple = try #require(SimplePattern(pattern), "\(pattern) should be simple")
            let regex = try Regex(pattern)
            // A trailing newline is where engines differ on `$`; JSON Schema's (ECMA-262) does not match before it.
            for value in Self.values where !value.hasSuffix("\n") {
                #expect(simple.matches(value) == ((try? regex.firstMatch(in: value)) != nil), "\(pattern) on \(value.debugDescription)")
            }
            if pattern.hasSuffix("$") { #expect(!simple.matches("abc\n")) }
        }
    }

    @Test func leavesOtherPatternsToRegex() {
        for pattern in ["^a", "a$", "a.c", "^[^a]+$", "^[a-z]{2,}$", "^[\\d]+$", "^[a-z]+[0-9]+$", "^[a-z--q]+$", "(a|b)", "^[]a]+$", "^[é]+$"] {
            #expect(SimplePattern(pattern) == nil, "\(pattern)")
        }
    }
}
