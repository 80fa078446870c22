/// One thing the import found wrong or could not carry over, at its place in a document:
/// `spec.yaml#/paths/~1pets/get/x-gatehouse/polices: unknown key`.
public struct ImportProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable {
        /// Nothing is written.
        case error
        /// Written, but something of the spec is not enforced; `--strict` makes it an error.
        case warning
    }

    public var severity: Severity
    /// The document, as the user named it.
    public var file: String
    public var pointer: JSONPointer
    public var message: String

    public init(_ severity: Severity, file: String, pointer: JSONPointer, _ message: String) {
        self.severity = severity
        self.file = file
        self.pointer = pointer
        self.message = message
    }

    public var description: String { "\(file)\(pointer): \(message)" }
}
