import GatehouseModel

/// What a transform's value is worked out from, per request.
struct TransformContext {
    let consumer: CompiledConsumer?
    let routeName: String
    let captures: [(name: String, value: Substring)]
}

/// A transform's value compiled: a constant is written as is; a template is filled in per
/// request from the consumer, the route and the path's captures. Immutable.
struct TransformValue: Sendable {
    let template: TransformTemplate
    let constant: String?

    init(_ text: String) {
        // Admission parsed it already; a config that no longer parses writes nothing.
        template = (try? TransformTemplate(text)) ?? TransformTemplate.empty
        constant = template.constant
    }

    enum Resolved {
        case value(String)
        /// A variable has no value here (no consumer, no custom_id, no such capture).
        case missing
        /// The value would hold a control character (a decoded path parameter with `%0D`, say):
        /// it would end the header line, so it is never written.
        case refused
    }

    func resolve(_ context: TransformContext) -> Resolved {
        if let constant { return .value(constant) }
        var out = ""
        for part in template.parts {
            switch part {
            case .literal(let text): out += text
            case .consumerName:
                guard let consumer = context.consumer else { return .missing }
                out += consumer.name
            case .consumerID:
                guard let consumer = context.consumer else { return .missing }
                out += consumer.id
            case .consumerCustomID:
                guard let custom = context.consumer?.customID else { return .missing }
                out += custom
            case .routeName: out += context.routeName
            case .path(let name):
                // As the upstream reads the parameter: percent-decoded.
                guard let raw = context.captures.first(where: { $0.name == name })?.value,
                    let decoded = PercentDecoding.decode(raw, plusIsSpace: false)
                else { return .missing }
                out += decoded
            }
        }
        if out.utf8.contains(where: { ($0 < 0x20 && $0 != UInt8(ascii: "\t")) || $0 == 0x7F }) { return .refused }
        return .value(out)
    }
}

extension TransformTemplate {
    fileprivate static let empty: TransformTemplate = try! TransformTemplate("")
}
