import GatehouseModel
import Testing

@Suite struct JSONValueTests {
    @Test func canonicalFormSortsKeysAndHasNoWhitespace() throws {
        let value = try JSONValue.parse(Array(#"{ "b": [1, true, null], "a": {"z": "x\"y", "c": 2.5} }"#.utf8))
        #expect(value.canonicalString == #"{"a":{"c":2.5,"z":"x\"y"},"b":[1,true,null]}"#)
    }

    @Test func controlCharactersAreEscaped() {
        #expect(JSONValue.string("a\nb\u{1}").canonicalString == #""a\nb\u0001""#)
    }

    @Test func invalidJSONIsAnInvalidError() {
        #expect(throws: ConfigError.self) { try JSONValue.parse(Array("{\"a\":".utf8)) }
    }

    @Test func mergePatchMergesObjectsAndRemovesNulls() {
        let base: JSONValue = ["a": 1, "b": ["c": 2, "d": 3]]
        let patched = base.merging(patch: ["b": ["c": .null, "e": 4], "f": "x"])
        #expect(patched == ["a": 1, "b": ["d": 3, "e": 4], "f": "x"])
    }
}

@Suite struct JSONParserTests {
    private func message(_ text: String) -> String? {
        do {
            _ = try JSONValue.parse(Array(text.utf8))
            return nil
        } catch {
            return error.message
        }
    }

    @Test func valuesParse() throws {
        let value = try JSONValue.parse(Array(#" {"a": [1, -2, 3.5, 1e2, true, false, null, "x\u00e9\ud83d\ude00\n"]} "#.utf8))
        #expect(value == ["a": [1, -2, .double(3.5), .double(100), true, false, .null, "xé😀\n"]])
    }

    @Test func duplicateKeysAreRefusedWithTheirPosition() {
        #expect(message("{\"name\": \"a\",\n \"name\": \"b\"}") == "not valid JSON: duplicate key 'name' at line 2, column 2")
    }

    @Test(arguments: [
        ("[1,]", "unexpected character ']'"), ("{\"a\" 1}", "expected ':'"), ("01", "leading zero"), ("1e400", "out of range"),
        ("\"a\u{1}\"", "control character"), ("\"\\ud800\"", "lone surrogate"), ("[1] x", "after the JSON value"), ("", "end of input"),
        ("\"\\q\"", "invalid escape"), ("tru", "invalid literal"),
    ])
    func malformedInputIsRefused(text: String, reason: String) {
        #expect(message(text)?.contains(reason) == true, "\(message(text) ?? "parsed")")
    }

    @Test func deepNestingIsRefusedNotOverflowed() {
        #expect(message(String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000))?.contains("deeper than 128") == true)
        #expect(message(String(repeating: "[", count: 128) + String(repeating: "]", count: 128)) == nil)
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: ConfigError.self) { try JSONValue.parse([UInt8(ascii: "\""), 0xFF, 0xFE, UInt8(ascii: "\"")]) }
    }

    @Test func bigIntegersBecomeDoublesAndAreRefusedWhereIntegersAreExpected() throws {
        #expect(try JSONValue.parse(Array("99999999999999999999".utf8)) == .double(1e20))
    }
}
