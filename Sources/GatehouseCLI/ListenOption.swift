import ArgumentParser
import GatehouseProxy

extension ListenAddress: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(argument)
    }
}
