import ArgumentParser

/// A size flag: `1048576`, `512KiB` or `64MiB`.
struct ByteSize: ExpressibleByArgument, CustomStringConvertible {
    let bytes: Int

    var description: String {
        bytes == 0 ? "0" : bytes % (1 << 20) == 0 ? "\(bytes >> 20)MiB" : bytes % (1 << 10) == 0 ? "\(bytes >> 10)KiB" : "\(bytes)"
    }

    init(bytes: Int) {
        self.bytes = bytes
    }

    init?(_ text: String) {
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("", 1)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let count = Int(text.dropLast(suffix.count)), count >= 0, count <= Int(Int32.max) else { return nil }
            bytes = count * factor
            return
        }
        return nil
    }

    init?(argument: String) {
        self.init(argument)
    }
}
