/// Builds a Prometheus text exposition (version 0.0.4): families with their HELP and TYPE,
/// samples with escaped label values, histograms from per-bucket counts.
struct PrometheusText {
    private(set) var text = ""

    init(capacity: Int = 4096) {
        text.reserveCapacity(capacity)
    }

    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ value: Int) { sample(name, [], value) }
    mutating func sample(_ name: String, _ value: Double) { sample(name, [], value) }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Int) {
        text += name
        writeLabels(labels)
        text += " \(value)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        text += name
        writeLabels(labels)
        text += " \(value)\n"
    }

    /// A histogram's samples from `DurationBuckets` counts (not cumulative) and a sum in
    /// nanoseconds, with the bounds `shown` (indices into `DurationBuckets.bounds`; all when nil)
    /// and +Inf. `_count` is the last cumulative bucket, so the two always agree.
    mutating func histogram(
        _ name: String, _ labels: [(String, String)] = [], buckets: ArraySlice<Int>, sumNanoseconds: Int, shown: [Int]? = nil
    ) {
        var cumulative = 0
        var next = 0
        for (offset, count) in buckets.enumerated() {
            cumulative += count
            if offset < DurationBuckets.labels.count {
                if let shown {
                    guard next < shown.count, shown[next] == offset else { continue }
                    next += 1
                }
                sample(name + "_bucket", labels + [("le", DurationBuckets.labels[offset])], cumulative)
            } else {
                sample(name + "_bucket", labels + [("le", "+Inf")], cumulative)
            }
        }
        sample(name + "_sum", labels, Double(sumNanoseconds) / 1e9)
        sample(name + "_count", labels, cumulative)
    }

    private mutating func writeLabels(_ labels: [(String, String)]) {
        guard !labels.isEmpty else { return }
        text += "{"
        for (index, (name, value)) in labels.enumerated() {
            if index > 0 { text += "," }
            text += name
            text += "=\""
            text += Self.escaped(value)
            text += "\""
        }
        text += "}"
    }

    static func escaped(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) else { return value }
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
