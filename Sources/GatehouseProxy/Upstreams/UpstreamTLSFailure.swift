import NIOSSL

/// What a client is told about a failed TLS handshake with an upstream: BoringSSL's reason
/// (`certificate verify failed`), not its error's description, which carries error codes and
/// the source file paths of the build.
enum UpstreamTLSFailure {
    /// The reason for a TLS error, or nil when `error` is not one.
    static func reason(_ error: any Error) -> String? {
        switch error {
        case NIOSSLError.handshakeFailed(let failure): return "handshake failed: " + reason(failure)
        case let error as NIOSSLError: return "\(error)"
        case let error as BoringSSLError: return reason(error)
        default: return nil
        }
    }

    private static func reason(_ error: BoringSSLError) -> String {
        switch error {
        case .sslError(let stack), .unknownError(let stack), .invalidSNIName(let stack), .failedToSetALPN(let stack):
            let reasons = stack.compactMap { reasonText(String(describing: $0)) }
            return reasons.isEmpty ? "TLS error" : reasons.joined(separator: "; ")
        default:
            return "\(error)"
        }
    }

    /// `Error: 268435581 error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at
    /// /path/handshake.cc:320` → `certificate verify failed`.
    private static func reasonText(_ description: String) -> String? {
        guard let code = description.firstRange(of: "error:") else { return nil }
        let message = description[code.upperBound...]
        let parts = message.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        let reason = parts[3].split(separator: " ", maxSplits: 1).first ?? ""
        guard !reason.isEmpty else { return nil }
        return String(reason.lowercased().map { $0 == "_" ? " " : $0 })
    }
}
