/// What an admin token may do: each role may do what the one before it may.
public enum AdminRole: String, Sendable, CaseIterable, Comparable {
    /// Reads, `explain`, dry runs.
    case viewer
    /// Also config writes and rollbacks.
    case editor
    /// Also admin tokens.
    case admin

    private var rank: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (a: AdminRole, b: AdminRole) -> Bool { a.rank < b.rank }
}
