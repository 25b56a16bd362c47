import CruddurDatabase
import CruddurTracing
import Foundation
import NIOConcurrencyHelpers
import Prometheus

/// The server's Prometheus metrics (`METRICS_PORT`): one registry per application, no global state.
///
/// Label values are bounded: route templates (never raw paths), status classes, constant operation names and outcomes.
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    static let requestBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5),
        .seconds(5), .seconds(10),
    ]

    private let activeRequests: Gauge
    /// The registry's histograms by label values, looked up here: asking the registry builds their names each time.
    private let requestDurations = NIOLockedValueBox([RequestKey: DurationHistogram]())
    private let databaseCallDurations = NIOLockedValueBox([DatabaseCallKey: DurationHistogram]())

    private struct RequestKey: Hashable {
        let method: String
        let route: String
        let statusClass: Int
    }

    private struct DatabaseCallKey: Hashable {
        let operation: String
        let succeeded: Bool
    }
    private let feedCacheHits: Counter
    private let feedCacheMisses: Counter
    private let feedCacheInvalidations: Counter
    private let rateLimitedPosts: Counter
    private let signingKeyFetches: Counter
    private let signingKeyFetchFailures: Counter
    private let purgeRuns: Counter
    private let purgedRows: Counter
    private let accessLogDropped: Counter
    private let accessLogDroppedSeen = NIOLockedValueBox(0)
    private let traceBatchesExported: Counter
    private let traceBatchesFailed: Counter
    private let traceSpansDropped: Counter
    private let traceSeen = NIOLockedValueBox(TraceExport.Statistics())
    private let poolInUse: Gauge
    private let poolIdle: Gauge
    private let poolWaiting: Gauge
    private let residentMemory: Gauge
    private let cpuSeconds: Gauge
    private let openDescriptors: Gauge

    public init() {
        func name(_ metricName: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: metricName, unitName: unit, helpText: help)
        }
        activeRequests = registry.makeGauge(descriptor: name("http_server_active", "requests", "Requests being handled now."))
        let cache = name("cruddur_feed_cache_lookups", "total", "First-page reads, by whether the cache answered them.")
        feedCacheHits = registry.makeCounter(descriptor: cache, labels: [("result", "hit")])
        feedCacheMisses = registry.makeCounter(descriptor: cache, labels: [("result", "miss")])
        feedCacheInvalidations = registry.makeCounter(
            descriptor: name("cruddur_feed_cache_invalidations", "total", "Cached pages dropped by this server's own posts."))
        rateLimitedPosts = registry.makeCounter(
            descriptor: name("cruddur_posts_rate_limited", "total", "Posts refused by POST_RATE_LIMIT (429)."))
        let keys = name("cruddur_jwks_fetches", "total", "Fetches of the Cognito user pool's signing keys (JWKS), by outcome.")
        signingKeyFetches = registry.makeCounter(descriptor: keys, labels: [("outcome", "ok")])
        signingKeyFetchFailures = registry.makeCounter(descriptor: keys, labels: [("outcome", "error")])
        purgeRuns = registry.makeCounter(descriptor: name("cruddur_purge_runs", "total", "Runs of the expiry purge."))
        purgedRows = registry.makeCounter(descriptor: name("cruddur_purge_deleted_rows", "total", "Expired activities deleted."))
        accessLogDropped = registry.makeCounter(
            descriptor: name("cruddur_access_log_dropped_lines", "total", "Access-log lines dropped because the buffer was full."))
        let batches = name("cruddur_trace_export_batches", "total", "Span batches sent to the OTLP endpoint, by outcome.")
        traceBatchesExported = registry.makeCounter(descriptor: batches, labels: [("outcome", "ok")])
        traceBatchesFailed = registry.makeCounter(descriptor: batches, labels: [("outcome", "error")])
        traceSpansDropped = registry.makeCounter(
            descriptor: name("cruddur_trace_spans_dropped", "total", "Spans dropped because the export queue was full."))
        let pool = name("cruddur_db_pool", "connections", "Database pool connections by state; waiting counts calls queued for one.")
        poolInUse = registry.makeGauge(descriptor: pool, labels: [("state", "in_use")])
        poolIdle = registry.makeGauge(descriptor: pool, labels: [("state", "idle")])
        poolWaiting = registry.makeGauge(descriptor: pool, labels: [("state", "waiting")])
        residentMemory = registry.makeGauge(descriptor: name("process_resident_memory", "bytes", "Resident memory size."))
        cpuSeconds = registry.makeGauge(descriptor: name("process_cpu_seconds", "total", "User and system CPU time spent."))
        openDescriptors = registry.makeGauge(descriptor: name("process_open", "fds", "Open file descriptors."))
    }

    func requestStarted() { activeRequests.increment() }

    /// One finished request: `route` is the route template (or `(unmatched)`), the status as its class (`2xx`).
    func requestFinished(method: String, route: String, status: Int, duration: Duration) {
        activeRequests.decrement()
        let key = RequestKey(method: method, route: route, statusClass: status / 100)
        if let histogram = requestDurations.withLockedValue({ $0[key] }) {
            histogram.record(duration)
            return
        }
        let histogram = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "http_server_request_duration", unitName: "seconds",
                helpText: "Time to answer a request, by method, route and status class."),
            labels: [("method", method), ("route", route), ("status_class", "\(key.statusClass)xx")],
            buckets: Self.requestBuckets
        )
        requestDurations.withLockedValue { $0[key] = histogram }
        histogram.record(duration)
    }

    func feedCacheLookup(hit: Bool) { (hit ? feedCacheHits : feedCacheMisses).increment() }
    func feedCacheInvalidated() { feedCacheInvalidations.increment() }
    func postRateLimited() { rateLimitedPosts.increment() }
    func signingKeysFetched(succeeded: Bool) { (succeeded ? signingKeyFetches : signingKeyFetchFailures).increment() }

    func purgeRan(deleted: Int) {
        purgeRuns.increment()
        purgedRows.increment(by: Int64(deleted))
    }

    /// One database call of the pool: its constant operation name, how long it took, whether it succeeded.
    func databaseCall(operation: String, duration: Duration, succeeded: Bool) {
        let key = DatabaseCallKey(operation: operation, succeeded: succeeded)
        if let histogram = databaseCallDurations.withLockedValue({ $0[key] }) {
            histogram.record(duration)
            return
        }
        let histogram = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "cruddur_db_call_duration", unitName: "seconds",
                helpText: "Database calls (waiting for a connection included), by operation and outcome."
            ),
            labels: [("operation", operation), ("outcome", succeeded ? "ok" : "error")],
            buckets: Self.requestBuckets
        )
        databaseCallDurations.withLockedValue { $0[key] = histogram }
        histogram.record(duration)
    }

    /// The text exposition, after sampling what is read at scrape time (pool, access log, process).
    func scrape(pool: DatabasePool.Statistics?, accessLogDropped dropped: Int?, traceExport: TraceExport.Statistics? = nil) -> [UInt8] {
        if let pool {
            poolInUse.set(Double(pool.open - pool.idle))
            poolIdle.set(Double(pool.idle))
            poolWaiting.set(Double(pool.waiting))
        }
        if let dropped {
            let delta = accessLogDroppedSeen.withLockedValue { seen in
                defer { seen = max(seen, dropped) }
                return dropped - seen
            }
            if delta > 0 { accessLogDropped.increment(by: Int64(delta)) }
        }
        if let traceExport {
            // Counted once however many scrapes race: each takes the part no other took.
            let delta = traceSeen.withLockedValue { seen in
                let delta = TraceExport.Statistics(
                    exportedBatches: max(0, traceExport.exportedBatches - seen.exportedBatches),
                    failedBatches: max(0, traceExport.failedBatches - seen.failedBatches),
                    droppedSpans: max(0, traceExport.droppedSpans - seen.droppedSpans))
                seen.exportedBatches += delta.exportedBatches
                seen.failedBatches += delta.failedBatches
                seen.droppedSpans += delta.droppedSpans
                return delta
            }
            traceBatchesExported.increment(by: Int64(delta.exportedBatches))
            traceBatchesFailed.increment(by: Int64(delta.failedBatches))
            traceSpansDropped.increment(by: Int64(delta.droppedSpans))
        }
        let process = ProcessSample.now()
        residentMemory.set(process.residentBytes)
        cpuSeconds.set(process.cpuSeconds)
        openDescriptors.set(process.openDescriptors)
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}

/// This process's memory, CPU time and descriptors, from `/proc/self` (zeros where it does not exist).
struct ProcessSample {
    var residentBytes = 0.0
    var cpuSeconds = 0.0
    var openDescriptors = 0.0

    static func now() -> ProcessSample {
        var sample = ProcessSample()
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let pages = Double(fields[1]) { sample.residentBytes = pages * pageSize }
        }
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let end = stat.lastIndex(of: ")") {
            // After the command name: state is field 3, utime and stime are fields 14 and 15.
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            if fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]), ticks > 0 {
                sample.cpuSeconds = (user + system) / ticks
            }
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            sample.openDescriptors = Double(entries.count)
        }
        return sample
    }
}
