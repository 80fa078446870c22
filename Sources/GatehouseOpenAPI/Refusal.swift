/// Why a piece of a spec cannot be mapped, before it is put at a pointer as an `ImportProblem`.
struct Refusal: Error, Sendable, Equatable, ExpressibleByStringInterpolation {
    var reason: String
    /// The spec itself is wrong (not merely beyond what the gateway enforces): always an error.
    var invalidSpec = false

    init(stringLiteral value: String) {
        reason = value
    }

    static func invalid(_ reason: String) -> Refusal {
        var refusal = Refusal(stringLiteral: reason)
        refusal.invalidSpec = true
        return refusal
    }

    init(stringInterpolation: DefaultStringInterpolation) {
        reason = String(stringInterpolation: stringInterpolation)
    }
}
