// libyaml itself, as Yams carries it: the same parser that composes the text later, so this pass
// sees exactly the anchors, aliases and nesting that composing would.
internal import CYaml

/// The pass over a YAML text's parser events that runs before any node is built. It refuses
/// anchors and aliases (an alias makes a node shared, so a few lines can stand for billions of
/// values once converted, and Yams hashes a mapping key that is an alias whole) and collections
/// nested deeper than `maxDepth`. It stops at the first one, having cost only the events before
/// it: libyaml's own stacks, no nodes. Stateless; safe from any thread.
enum YAMLGuard {
    /// As deep as the JSON parser allows.
    static let maxDepth = 128

    struct Refusal: Error, Equatable {
        /// 1-based, as in an editor.
        var line: Int
        var column: Int
        var message: String
    }

    /// The first reason not to compose `text`, or nil. A syntax error is not one: composing
    /// reports it, with its place, and stops there too.
    static func check(_ text: String) -> Refusal? {
        var text = text
        return text.withUTF8 { bytes in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return Refusal(line: 1, column: 1, message: "out of memory") }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)
            var depth = 0
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
                defer { yaml_event_delete(&event) }
                let refusal: (String) -> Refusal = { message in
                    Refusal(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1, message: message)
                }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return nil
                case YAML_ALIAS_EVENT:
                    return refusal("YAML aliases (*name) are not supported; write the value out")
                case YAML_SCALAR_EVENT where event.data.scalar.anchor != nil:
                    return refusal("YAML anchors (&name) are not supported; write the value out")
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    let anchor = event.type == YAML_SEQUENCE_START_EVENT ? event.data.sequence_start.anchor : event.data.mapping_start.anchor
                    if anchor != nil { return refusal("YAML anchors (&name) are not supported; write the value out") }
                    depth += 1
                    if depth > maxDepth { return refusal("nesting deeper than \(maxDepth) levels") }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    depth -= 1
                default:
                    break
                }
            }
        }
    }
}
