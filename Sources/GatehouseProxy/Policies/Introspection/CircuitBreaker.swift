/// Whether an authorization server may be called: closed while it answers; open for a cool-down
/// after `threshold` failures in a row, when nobody calls it; then half-open, when one call
/// probes it and decides which of the two comes next. A value: the endpoint keeps it under its
/// lock.
struct CircuitBreaker: Sendable, Equatable {
    enum State: Sendable, Equatable {
        case closed(failures: Int)
        /// Until this time (milliseconds since the epoch).
        case open(until: Int64)
        /// One probing call is in flight.
        case halfOpen
    }

    private(set) var state = State.closed(failures: 0)
    let threshold: Int
    let cooldown: Int64

    init(threshold: Int, cooldownMilliseconds: Int64) {
        self.threshold = threshold
        cooldown = cooldownMilliseconds
    }

    /// Whether a call may start now; an open breaker whose cool-down is over lets this one
    /// call through as its probe.
    mutating func allows(now: Int64) -> Bool {
        switch state {
        case .closed: return true
        case .halfOpen: return false
        case .open(let until):
            guard now >= until else { return false }
            state = .halfOpen
            return true
        }
    }

    /// Whether no call may start now (checked without taking the probe's turn).
    func refuses(now: Int64) -> Bool {
        switch state {
        case .closed: false
        case .halfOpen: true
        case .open(let until): now < until
        }
    }

    mutating func succeeded() {
        state = .closed(failures: 0)
    }

    mutating func failed(now: Int64) {
        switch state {
        case .closed(let failures) where failures + 1 < threshold: state = .closed(failures: failures + 1)
        case .closed, .halfOpen: state = .open(until: now + cooldown)
        // A call that started before the breaker opened and failed after: the cool-down stands.
        case .open: break
        }
    }

    /// For `/metrics`: 0 closed, 1 open, 2 half-open.
    var gauge: Int {
        switch state {
        case .closed: 0
        case .open: 1
        case .halfOpen: 2
        }
    }
}
