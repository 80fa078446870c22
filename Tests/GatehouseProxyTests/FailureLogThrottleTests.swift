import NIOCore
import Testing

@testable import GatehouseProxy

/// Upstream failure lines are thinned to one per upstream and code per second.
@Suite struct FailureLogThrottleTests {
    @Test func oneLinePerKeyAndWindowAndTheNextSaysHowManyWereLeftOut() {
        var throttle = FailureLogThrottle()
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        #expect(throttle.admit("u|upstream_timeout", now: start) == 0)
        #expect(throttle.admit("u|upstream_timeout", now: start + .milliseconds(10)) == nil)
        #expect(throttle.admit("u|upstream_timeout", now: start + .milliseconds(999)) == nil)
        // Another code or upstream has its own window.
        #expect(throttle.admit("u|upstream_failed", now: start + .milliseconds(20)) == 0)
        #expect(throttle.admit("v|upstream_timeout", now: start + .milliseconds(20)) == 0)
        #expect(throttle.admit("u|upstream_timeout", now: start + .seconds(1)) == 2)
        #expect(throttle.admit("u|upstream_timeout", now: start + .seconds(3)) == 0)
    }

    @Test func keysPastTheirWindowAreLetGoWhenManyPileUp() {
        var throttle = FailureLogThrottle()
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        for index in 0...FailureLogThrottle.pruneAbove { _ = throttle.admit("u\(index)|upstream_failed", now: start) }
        #expect(throttle.keyCount == FailureLogThrottle.pruneAbove + 1)
        // Within their window they stay; past it, the next new key lets them go.
        _ = throttle.admit("v|upstream_failed", now: start + .milliseconds(500))
        #expect(throttle.keyCount == FailureLogThrottle.pruneAbove + 2)
        _ = throttle.admit("w|upstream_failed", now: start + .seconds(2))
        #expect(throttle.keyCount == 1)
    }
}
