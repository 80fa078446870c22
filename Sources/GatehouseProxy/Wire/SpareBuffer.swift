import NIOCore

/// A small buffer kept after its bytes were written, for the next head of its kind on the same
/// connection: otherwise each request would allocate one head buffer each way. Reuse is safe
/// whatever the channel still holds: `clear` allocates afresh when the storage is still shared.
/// Only small buffers are kept, so an idle connection holds little.
struct SpareBuffer {
    static let keptCapacity = 2048
    private var kept: ByteBuffer?

    mutating func keep(_ buffer: ByteBuffer) {
        if buffer.capacity <= Self.keptCapacity { kept = buffer }
    }

    /// The kept buffer emptied, with room for `capacity` bytes, or a new one.
    mutating func take(capacity: Int) -> ByteBuffer {
        guard var buffer = kept.take() else { return ByteBufferAllocator().buffer(capacity: capacity) }
        buffer.clear(minimumCapacity: capacity)
        return buffer
    }
}
