/// Who made a version, for the audit trail: the admin token's name (or `config-dir`, `rollback`
/// when the CLI asked for one, `local` without admin authentication), the client's address, and
/// what the change came through (`admin API`, `gatehouse sync`, `config directory`, …).
public struct Author: Sendable, Equatable {
    public let name: String
    public let address: String
    public let via: String

    public init(name: String, address: String, via: String) {
        self.name = name
        self.address = address
        self.via = via
    }
}
