/// Target indices a request has tried or must avoid. The first 64 are bits of one word (an
/// upstream rarely has more), so the usual request allocates nothing for them; `Set<Int>` did
/// on its first insert.
struct TargetSet: ExpressibleByArrayLiteral {
    private var low: UInt64 = 0
    private var rest: Set<Int> = []
    private(set) var count = 0

    init(arrayLiteral indices: Int...) {
        for index in indices { insert(index) }
    }

    var isEmpty: Bool { count == 0 }

    func contains(_ index: Int) -> Bool {
        (0..<64).contains(index) ? low & (1 << UInt64(index)) != 0 : rest.contains(index)
    }

    mutating func insert(_ index: Int) {
        guard !contains(index) else { return }
        if (0..<64).contains(index) {
            low |= 1 << UInt64(index)
        } else {
            rest.insert(index)
        }
        count += 1
    }
}
