import ArgumentParser
import Foundation
import GatehouseModel
import GatehouseProxy
import Logging
import NIOCore
import NIOPosix

/// The flags of a data plane, embedded (`serve`) or remote (`data-plane`): its listeners, edge
/// limits, timeouts, name servers and workers. Each also read from the environment variable named
/// in its help.
struct DataPlaneOptions: ParsableArguments {
    @Option(help: "Proxy listen address (GATEHOUSE_PROXY_LISTEN).")
    var proxyListen = EnvironmentDefault.value("GATEHOUSE_PROXY_LISTEN", ListenAddress(host: "0.0.0.0", port: 8000), expected: "host:port") {
        ListenAddress($0)
    }

    @Option(
        help:
            "TLS proxy listen address, such as 0.0.0.0:8443, or off; certificates come from the config, their keys opened with GATEHOUSE_SECRET_KEY (GATEHOUSE_PROXY_TLS_LISTEN)."
    )
    var proxyTlsListen = EnvironmentDefault.value("GATEHOUSE_PROXY_TLS_LISTEN", "off")

    @Option(help: "Status and metrics listen address (GATEHOUSE_STATUS_LISTEN).")
    var statusListen = EnvironmentDefault.value("GATEHOUSE_STATUS_LISTEN", ListenAddress(host: "127.0.0.1", port: 8100), expected: "host:port") {
        ListenAddress($0)
    }

    @Option(help: "Largest total size of request header names and values; larger gets 431 (GATEHOUSE_MAX_HEADER_SIZE).")
    var maxHeaderSize = EnvironmentDefault.value("GATEHOUSE_MAX_HEADER_SIZE", ByteSize("32KiB")!, expected: "a size such as 32KiB") { ByteSize($0) }

    @Option(help: "Most header fields a request may have; more gets 431 (GATEHOUSE_MAX_HEADER_COUNT).")
    var maxHeaderCount = EnvironmentDefault.value("GATEHOUSE_MAX_HEADER_COUNT", 100, expected: "a number from 1 to 10000") {
        Int($0).flatMap { (1...10_000).contains($0) ? $0 : nil }
    }

    @Option(help: "Largest request body; larger gets 413. 0 for no limit (GATEHOUSE_MAX_BODY_SIZE).")
    var maxBodySize = EnvironmentDefault.value("GATEHOUSE_MAX_BODY_SIZE", ByteSize(bytes: 0), expected: "a size such as 100MiB") { ByteSize($0) }

    @Option(help: "Comma-separated CIDRs whose X-Forwarded-* headers are trusted (GATEHOUSE_TRUSTED_PROXIES).")
    var trustedProxies = EnvironmentDefault.value("GATEHOUSE_TRUSTED_PROXIES", CIDRList(ranges: []), expected: "CIDRs such as 10.0.0.0/8,::1") {
        CIDRList($0)
    }

    @Option(
        help:
            "Comma-separated name servers (ip or ip:port) for upstream targets given as DNS names; default: /etc/resolv.conf's (GATEHOUSE_DNS_RESOLVER)."
    )
    var dnsResolver = EnvironmentDefault.value(
        "GATEHOUSE_DNS_RESOLVER", NameServerList(servers: []), expected: "name servers such as 10.0.0.2,127.0.0.1:8600"
    ) {
        NameServerList($0)
    }

    @Flag(help: "Forward TRACE requests instead of refusing them with 405 (GATEHOUSE_ALLOW_TRACE=1).")
    var allowTrace = false

    @Flag(help: "Pass on header names containing _ both ways instead of dropping them (GATEHOUSE_ALLOW_UNDERSCORE_HEADERS=1).")
    var allowUnderscoreHeaders = false

    @Option(help: "Time a client has to send a request head once it started (GATEHOUSE_HEADER_TIMEOUT).")
    var headerTimeout = EnvironmentDefault.value("GATEHOUSE_HEADER_TIMEOUT", ConfigDuration("10s")!, expected: "a duration such as 10s") {
        ConfigDuration($0)
    }

    @Option(help: "Time a request body may go without a byte from the client; longer gets 408 (GATEHOUSE_BODY_TIMEOUT).")
    var bodyTimeout = EnvironmentDefault.value("GATEHOUSE_BODY_TIMEOUT", ConfigDuration("60s")!, expected: "a duration such as 60s") {
        ConfigDuration($0)
    }

    @Option(help: "Time an idle keep-alive client connection stays open (GATEHOUSE_IDLE_TIMEOUT).")
    var idleTimeout = EnvironmentDefault.value("GATEHOUSE_IDLE_TIMEOUT", ConfigDuration("60s")!, expected: "a duration such as 60s") {
        ConfigDuration($0)
    }

    @Option(
        help:
            "While draining, how long an idle keep-alive connection is kept for its client's next request (answered with Connection: close) before it is closed (GATEHOUSE_DRAIN_IDLE_GRACE)."
    )
    var drainIdleGrace = EnvironmentDefault.value("GATEHOUSE_DRAIN_IDLE_GRACE", ConfigDuration("1s")!, expected: "a duration such as 1s") {
        ConfigDuration($0)
    }

    @Option(help: "On SIGTERM, how long open requests may take to finish before they are cut (GATEHOUSE_DRAIN_TIMEOUT).")
    var drainTimeout = EnvironmentDefault.value("GATEHOUSE_DRAIN_TIMEOUT", ConfigDuration("30s")!, expected: "a duration such as 30s") {
        ConfigDuration($0)
    }

    @Option(
        help:
            "Time a rate limit or quota waits for Redis before failing open or closed as configured (GATEHOUSE_REDIS_TIMEOUT)."
    )
    var redisTimeout = EnvironmentDefault.value("GATEHOUSE_REDIS_TIMEOUT", ConfigDuration("250ms")!, expected: "a duration such as 250ms") {
        ConfigDuration($0)
    }

    @Option(
        help:
            "Client connections open at once; past it new clients wait to be accepted. 0: half of what the open-file limit leaves after a reserve (GATEHOUSE_MAX_CONNECTIONS)."
    )
    var maxConnections = EnvironmentDefault.value("GATEHOUSE_MAX_CONNECTIONS", 0, expected: "a number of connections") { Int($0).flatMap { $0 >= 0 ? $0 : nil } }

    @Option(
        help:
            "Unix socket over which an upgrade hands the proxy's listening sockets to the new process; 'off' for none. Default: beside the database (serve) or in the cache directory (data-plane) (GATEHOUSE_HANDOFF_SOCKET)."
    )
    var handoffSocket = EnvironmentDefault.value("GATEHOUSE_HANDOFF_SOCKET", "")

    @Option(help: "Proxy event loops, one per core by default (GATEHOUSE_WORKERS).")
    var workers = EnvironmentDefault.value("GATEHOUSE_WORKERS", System.coreCount, expected: "a number of event loops") { Int($0) }

    @Option(help: "Request metrics on /metrics (by route, upstream and target): on or off (GATEHOUSE_REQUEST_METRICS).")
    var requestMetrics = EnvironmentDefault.value("GATEHOUSE_REQUEST_METRICS", Switch.on, expected: "on or off") { Switch(rawValue: $0) }

    @Option(
        help:
            "Consumers with their own label on routes with consumer_metrics, the first in name order; the rest count as _other (GATEHOUSE_CONSUMER_METRICS_CAP)."
    )
    var consumerMetricsCap = EnvironmentDefault.value("GATEHOUSE_CONSUMER_METRICS_CAP", 100, expected: "a number of consumers") { Int($0) }

    @Option(help: "A JSON line per request: a file path (reopened on SIGHUP), stdout, or off (GATEHOUSE_ACCESS_LOG).")
    var accessLog = EnvironmentDefault.value("GATEHOUSE_ACCESS_LOG", "off")

    @Option(help: "OTLP/HTTP traces endpoint spans are posted to, such as http://127.0.0.1:4318/v1/traces (GATEHOUSE_OTLP_ENDPOINT).")
    var otlpEndpoint = EnvironmentDefault.value("GATEHOUSE_OTLP_ENDPOINT", "")

    @Option(help: "Share of new traces whose spans are exported, from 0 to 1 (GATEHOUSE_TRACE_SAMPLE_RATIO).")
    var traceSampleRatio = EnvironmentDefault.value("GATEHOUSE_TRACE_SAMPLE_RATIO", 0.01, expected: "a number from 0 to 1") {
        Double($0).flatMap { (0...1).contains($0) ? $0 : nil }
    }

    @Option(help: "trace, debug, info, notice, warning, error or critical (GATEHOUSE_LOG_LEVEL).")
    var logLevel = EnvironmentDefault.value("GATEHOUSE_LOG_LEVEL", Logger.Level.info, expected: "a log level") { Logger.Level(rawValue: $0) }

    func validate() throws {
        if proxyTlsListen != "off", ListenAddress(proxyTlsListen) == nil {
            throw ValidationError("--proxy-tls-listen (GATEHOUSE_PROXY_TLS_LISTEN) must be host:port, such as 0.0.0.0:8443, or off")
        }
        do {
            _ = try KeySealer.fromEnvironment()
        } catch {
            throw ValidationError("\(KeySealer.environmentVariable) \(error.message)")
        }
        guard (1...256).contains(workers) else { throw ValidationError("--workers must be from 1 to 256") }
        guard (1...10_000).contains(maxHeaderCount) else { throw ValidationError("--max-header-count must be from 1 to 10000") }
        guard (0...100_000).contains(consumerMetricsCap) else { throw ValidationError("--consumer-metrics-cap must be from 0 to 100000") }
        guard (0...1).contains(traceSampleRatio) else { throw ValidationError("--trace-sample-ratio must be from 0 to 1") }
        if !otlpEndpoint.isEmpty {
            guard let url = URL(string: otlpEndpoint), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ValidationError("--otlp-endpoint must be an http or https URL, such as http://127.0.0.1:4318/v1/traces")
            }
        }
        // Read now, so that a bad value stops the process before it opens anything.
        _ = EnvironmentDefault.flag("GATEHOUSE_ALLOW_TRACE")
        _ = EnvironmentDefault.flag("GATEHOUSE_ALLOW_UNDERSCORE_HEADERS")
    }

    /// `--proxy-tls-listen`; nil for off.
    var proxyTLSAddress: ListenAddress? { proxyTlsListen == "off" ? nil : ListenAddress(proxyTlsListen) }

    /// What opens certificate keys: `GATEHOUSE_SECRET_KEY` (checked by `validate`).
    var sealer: KeySealer? { try? KeySealer.fromEnvironment() }

    /// Where `--access-log` writes; nil for off.
    var accessLogDestination: AccessLog.Destination? {
        switch accessLog {
        case "off": nil
        case "stdout": .stdout
        default: .file(accessLog)
        }
    }

    /// `--handoff-socket`, else `fallback` (beside the database or the cache); nil for 'off'.
    func handoffPath(defaultingTo fallback: String) -> String? {
        handoffSocket == "off" ? nil : handoffSocket.isEmpty ? fallback : handoffSocket
    }

    var proxyOptions: ProxyOptions {
        var options = ProxyOptions()
        options.maxHeaderBytes = maxHeaderSize.bytes
        options.maxHeaderCount = maxHeaderCount
        options.maxBodyBytes = maxBodySize.bytes == 0 ? nil : maxBodySize.bytes
        options.trustedProxies = trustedProxies.ranges
        options.headerTimeout = headerTimeout.timeAmount
        options.idleTimeout = idleTimeout.timeAmount
        options.bodyTimeout = bodyTimeout.timeAmount
        options.allowsTrace = allowTrace || EnvironmentDefault.flag("GATEHOUSE_ALLOW_TRACE")
        options.allowsUnderscoreHeaders = allowUnderscoreHeaders || EnvironmentDefault.flag("GATEHOUSE_ALLOW_UNDERSCORE_HEADERS")
        options.drainTimeout = drainTimeout.timeAmount
        options.drainIdleGrace = drainIdleGrace.timeAmount
        options.maxConnections = maxConnections == 0 ? nil : maxConnections
        return options
    }
}

/// An option that is `on` or `off`.
enum Switch: String, ExpressibleByArgument, Sendable {
    case on
    case off
}
