/// Why a piece of a spec cannot be mapped, before it is put at a pointer as an `ImportProblem`.
struct Refusal: Error, Sendable, Equatable, ExpressibleByStringInterpolation {
    var reason: String

    init(stringLiteral value: String) {
        reason = value
    }

    init(stringInterpolation: DefaultStringInterpolation) {
        reason = String(stringInterpolation: stringInterpolation)
    }
}
