import ArgumentParser
import Foundation
import GatehouseModel
import GatehouseProxy

/// A comma-separated list of CIDRs: `10.0.0.0/8,192.168.0.0/16,::1`.
struct CIDRList: ExpressibleByArgument, CustomStringConvertible {
    let ranges: [IPRange]

    init(ranges: [IPRange]) {
        self.ranges = ranges
    }

    init?(_ text: String) {
        var ranges: [IPRange] = []
        for part in text.split(separator: ",") {
            guard let range = IPRange(part.trimmingCharacters(in: .whitespaces)) else { return nil }
            ranges.append(range)
        }
        self.ranges = ranges
    }

    init?(argument: String) {
        self.init(argument)
    }

    var description: String { ranges.isEmpty ? "none" : ranges.map(\.description).joined(separator: ",") }
}
