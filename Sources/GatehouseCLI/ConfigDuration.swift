import ArgumentParser
import Foundation
import GatehouseModel
import NIOCore

/// A duration flag written as config durations are: `250ms`, `10s`, `1m`.
struct ConfigDuration: ExpressibleByArgument, CustomStringConvertible {
    let duration: Duration

    init?(_ text: String) {
        guard let duration = Duration(configText: text), duration > .zero else { return nil }
        self.duration = duration
    }

    init?(argument: String) {
        self.init(argument)
    }

    var description: String { duration.configText }
    var timeAmount: TimeAmount { .milliseconds(duration.milliseconds) }
}
