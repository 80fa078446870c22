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
