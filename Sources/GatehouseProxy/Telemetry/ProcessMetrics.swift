import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The process's own CPU, memory, file descriptors and start time, under the names every
/// Prometheus client library uses (`process_*`), read from `/proc/self` at each scrape.
enum ProcessMetrics {
    static var prometheusText: String {
        var out = PrometheusText()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        // Fields after the command's closing parenthesis (which may hold spaces): state is field 3.
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
            if let user = field(14), let system = field(15), ticks > 0 {
                out.family("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.")
                out.sample("process_cpu_seconds_total", (user + system) / ticks)
            }
            if let virtual = field(23), let resident = field(24) {
                out.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.")
                out.sample("process_virtual_memory_bytes", Int(virtual))
                out.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
                out.sample("process_resident_memory_bytes", Int(resident) * Int(sysconf(Int32(_SC_PAGESIZE))))
            }
            if let start = field(22), let boot = bootTime, ticks > 0 {
                out.family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.")
                out.sample("process_start_time_seconds", boot + start / ticks)
            }
        }
        if let open = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            out.family("process_open_fds", "gauge", "Open file descriptors.")
            // The listing itself holds one open while it reads.
            out.sample("process_open_fds", max(0, open.count - 1))
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            out.family("process_max_fds", "gauge", "Most file descriptors the process may open.")
            out.sample("process_max_fds", Int(clamping: limit.rlim_cur))
        }
        return out.text
    }

    /// Seconds since the epoch when the machine booted (`btime` in /proc/stat).
    private static let bootTime: Double? = {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") { return Double(line.dropFirst(6)) }
        return nil
    }()
}
