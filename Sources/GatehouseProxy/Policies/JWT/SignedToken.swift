import GatehouseModel

/// A compact JWS whose signature one of the policy's keys verified: its protected header and
/// its payload's bytes. Every header rule is checked before any key is: the algorithm must be
/// one the policy accepts, `crit` is refused (no extension is understood), and `jwk`, `jku`,
/// `x5u`, `x5c` are never looked at — keys come from the policy alone.
struct SignedToken {
    let header: [String: JSONValue]
    let payload: [UInt8]

    static func verify(_ token: Substring, keys: [JWTKey], accepted: Set<JWTAlgorithm>) throws(TokenRefusal) -> SignedToken {
        let utf8 = token.utf8
        guard let firstDot = utf8.firstIndex(of: UInt8(ascii: ".")) else { throw .malformed }
        let payloadStart = utf8.index(after: firstDot)
        guard let secondDot = utf8[payloadStart...].firstIndex(of: UInt8(ascii: ".")) else { throw .malformed }
        let signaturePart = token[utf8.index(after: secondDot)...]
        guard !signaturePart.utf8.contains(UInt8(ascii: ".")) else { throw .malformed }
        guard let headerBytes = Base64URL.decode(token[..<firstDot].utf8), let payload = Base64URL.decode(token[payloadStart..<secondDot].utf8),
            let signature = Base64URL.decode(signaturePart.utf8), !signature.isEmpty
        else { throw .malformed }
        guard case .object(let header)? = try? JSONValue.parse(headerBytes) else { throw .malformed }
        guard case .string(let name)? = header["alg"], let algorithm = JWTAlgorithm(rawValue: name), accepted.contains(algorithm) else {
            throw .algorithmNotAccepted
        }
        if header["crit"] != nil { throw .criticalHeader }
        var candidates = keys.filter { $0.algorithm == algorithm }
        if let kid = header["kid"] {
            guard case .string(let kid) = kid, kid.utf8.count <= 256 else { throw .malformed }
            candidates.removeAll { $0.kid != kid }
            guard !candidates.isEmpty else { throw .unknownKey }
        }
        let input = Array(token[..<secondDot].utf8)
        guard candidates.contains(where: { $0.verifies(signature, signing: input) }) else { throw .badSignature }
        return SignedToken(header: header, payload: payload)
    }
}
