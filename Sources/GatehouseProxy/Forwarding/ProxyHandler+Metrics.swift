/// Upstream attempts and retries in the request metrics (`RequestMetrics`).
extension ProxyHandler {
    /// Counts how an attempt on the exchange's current target ended.
    func countAttempt(_ exchange: Exchange, _ outcome: MeterLayout.Outcome) {
        meters?.target(exchange.upstream.targetSlots[exchange.target]).add(outcome.rawValue)
    }

    func countRetry(_ exchange: Exchange) {
        meters?.upstream(exchange.upstream.meterSlot).add(MeterLayout.Upstream.retries)
    }
}
