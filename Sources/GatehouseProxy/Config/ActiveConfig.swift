import Atomics

/// The one reference every event loop reads the current config through. Swapping it is a single
/// atomic store; readers never block and never see a half-built config.
public final class ActiveConfig: Sendable {
    private let reference = ManagedAtomic<CompiledConfig?>(nil)

    public init() {}

    /// The config to serve a new request with, or nil before the first snapshot was applied.
    public func load() -> CompiledConfig? {
        reference.load(ordering: .acquiring)
    }

    func store(_ config: CompiledConfig) {
        reference.store(config, ordering: .releasing)
    }
}
