import Atomics

/// A fixed block of counters that one event loop writes and a scrape reads from another thread.
/// Only the owning loop writes a word, so an increment is a relaxed load and store (plain moves
/// on x86), not a locked add; readers use relaxed loads. The block never moves or shrinks, so a
/// reader needs no lock.
final class LoopCells: @unchecked Sendable {
    private let words: UnsafeMutablePointer<Int.AtomicRepresentation>
    let count: Int

    init(count: Int) {
        self.count = count
        words = .allocate(capacity: count)
        words.initialize(repeating: Int.AtomicRepresentation(0), count: count)
    }

    deinit {
        words.deinitialize(count: count)
        words.deallocate()
    }

    /// Adds to a word. Call on the owning loop only.
    @inline(__always)
    func add(_ index: Int, _ amount: Int = 1) {
        let word = words + index
        let value = Int.AtomicRepresentation.atomicLoad(at: word, ordering: .relaxed)
        Int.AtomicRepresentation.atomicStore(value &+ amount, at: word, ordering: .relaxed)
    }

    /// Sets a word, after which readers that see it also see every earlier write. Owning loop only.
    func publish(_ index: Int, _ value: Int) {
        Int.AtomicRepresentation.atomicStore(value, at: words + index, ordering: .releasing)
    }

    /// A word as last written.
    func value(_ index: Int) -> Int {
        Int.AtomicRepresentation.atomicLoad(at: words + index, ordering: .relaxed)
    }

    /// A word `publish` set, with every write before it.
    func published(_ index: Int) -> Int {
        Int.AtomicRepresentation.atomicLoad(at: words + index, ordering: .acquiring)
    }

    /// Records a duration in a histogram laid out at `start` (`DurationBuckets.width` words).
    @inline(__always)
    func record(histogramAt start: Int, nanoseconds: Int64) {
        add(start + DurationBuckets.index(nanoseconds))
        add(start + DurationBuckets.sumOffset, Int(nanoseconds))
    }
}
