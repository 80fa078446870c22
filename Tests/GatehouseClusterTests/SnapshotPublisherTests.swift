import GatehouseCluster
import GatehouseModel
import Testing

@Suite struct SnapshotPublisherTests {
    static func snapshot(_ version: Int) -> Snapshot { Snapshot(version: version, document: ConfigDocument()) }

    @Test func aNewSubscriberStartsWithTheLatestSnapshot() async {
        let publisher = SnapshotPublisher()
        publisher.publish(Self.snapshot(1))
        publisher.publish(Self.snapshot(2))
        var iterator = publisher.subscribe().makeAsyncIterator()
        #expect(await iterator.next()?.version == 2)
    }

    @Test func aBurstCoalescesToTheNewestForASlowSubscriber() async {
        let publisher = SnapshotPublisher()
        let stream = publisher.subscribe()
        for version in 1...50 { publisher.publish(Self.snapshot(version)) }
        var iterator = stream.makeAsyncIterator()
        // Fifty versions published before the subscriber read one: it gets only the last.
        #expect(await iterator.next()?.version == 50)
        publisher.publish(Self.snapshot(51))
        #expect(await iterator.next()?.version == 51)
    }
}
