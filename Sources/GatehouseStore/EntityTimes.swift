/// When an entity was created and last changed (unix seconds). Kept beside the snapshot, not in
/// it: timestamps are history, not config, and must not change a snapshot's hash.
public struct EntityTimes: Sendable, Hashable {
    public var createdAt: Int
    public var updatedAt: Int
}
