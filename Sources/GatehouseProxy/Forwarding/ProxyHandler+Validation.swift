import Atomics
import GatehouseHTTP1
import GatehouseModel
import NIOCore
import NIOHTTP1

/// Running a route's `request-validation` policy: parameters when the head arrives, a JSON body
/// once it has ended — an invalid request is answered before any upstream is asked.
extension ProxyHandler {
    /// Checks the parameters and whether the body must be held. Returns nil when the request
    /// was answered (400, 415), else whether its body is to be checked.
    func validate(
        _ head: RequestHead, _ validation: RequestValidationPolicy, query: Substring?, match: PathTrie.Match,
        answerHeaders: [(String, String)], metrics: PolicyMetrics
    ) -> Bool? {
        do {
            try validation.checkParameters(headers: head.fields, query: query, captures: match.captures)
            return try validation.holdsBody(head.fields)
        } catch {
            metrics.invalidRequests.wrappingIncrement(ordering: .relaxed)
            measure.record?.policy = validation.name
            respondLocally(head, error.status, error.code, error.message, headers: answerHeaders, fields: error.fields)
            return nil
        }
    }

    /// The held body has ended and every other policy let the request through: check it, then
    /// send the request upstream with the body as it came.
    func checkHeldBody(_ exchange: Exchange) {
        exchange.awaitingBodyCheck = false
        guard let check = exchange.bodyCheck else { return connect(excluding: []) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(exchange.bodyBytes)
        for buffer in exchange.buffered { bytes.append(contentsOf: buffer.readableBytesView) }
        do {
            try check.checkBody(bytes)
        } catch {
            exchange.config.policyMetrics.invalidRequests.wrappingIncrement(ordering: .relaxed)
            measure.record?.policy = check.name
            return failBeforeResponse(error.status, error.code, error.message, fields: error.fields)
        }
        connect(excluding: [])
    }
}
