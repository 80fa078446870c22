import Logging
import NIOCore
import NIOHTTP1

/// Upstream failures in the log. The client gets a code and a short message; the operator also
/// needs the target that failed and the cause, under the request's id. A flood is thinned
/// (`FailureLogThrottle`).
extension ProxyHandler {
    /// Answers a request its upstream could not serve, and logs why.
    func failUpstream(_ status: HTTPResponseStatus, _ code: String, _ message: String, cause: (any Error)? = nil) {
        guard let exchange else { return }
        logUpstreamFailure(exchange, code, message, cause: cause)
        failBeforeResponse(status, code, message)
    }

    func logUpstreamFailure(_ exchange: Exchange, _ code: String, _ message: String, cause: (any Error)? = nil) {
        guard logger.logLevel <= .warning, let suppressed = pool.failureLog.admit(exchange.upstream.name + "|" + code, now: .now()) else { return }
        var metadata: Logger.Metadata = [
            "code": "\(code)", "upstream": "\(exchange.upstream.name)", "request_id": "\(exchange.requestID.text)",
            "attempts": "\(exchange.tried.count)",
        ]
        // The last target tried; none when no target was healthy.
        if !exchange.tried.isEmpty { metadata["target"] = "\(exchange.upstream.endpoints[exchange.target].description)" }
        if let cause { metadata["cause"] = "\(cause)" }
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        logger.warning("\(message)", metadata: metadata)
    }
}
