import Logging
import NIOConcurrencyHelpers
import OTel
import ServiceLifecycle
import Tracing

/// Exports this process's spans over OTLP/HTTP (swift-otel's batch processor and exporter).
///
/// Spans wait in a bounded queue (`OTEL_BSP_MAX_QUEUE_SIZE`, 2048 by default) and leave in batches every
/// `OTEL_BSP_SCHEDULE_DELAY`; a collector that is down or hangs never holds up a request: the queue fills, further
/// spans are dropped and counted in ``statistics``.
public final class TraceExport: Sendable {
    public let settings: TraceSettings
    /// Runs the processor and exporter; add it to the process's `ServiceGroup` (it flushes at shutdown).
    public let service: any Service
    private let counters: TraceExportCounters

    /// What the exporter has done so far.
    public struct Statistics: Sendable, Equatable {
        public var exportedBatches: Int
        public var failedBatches: Int
        public var droppedSpans: Int

        public init(exportedBatches: Int = 0, failedBatches: Int = 0, droppedSpans: Int = 0) {
            self.exportedBatches = exportedBatches
            self.failedBatches = failedBatches
            self.droppedSpans = droppedSpans
        }
    }

    public var statistics: Statistics { counters.snapshot }

    /// Makes the exporter and installs its tracer as the process's (`InstrumentationSystem`: once per process).
    /// `scheduleDelay` replaces the default 5 s between batches unless `OTEL_BSP_SCHEDULE_DELAY` is set.
    public static func bootstrap(_ settings: TraceSettings, scheduleDelay: Duration? = nil, logger: Logger) throws -> TraceExport {
        let counters = TraceExportCounters()
        var configuration = OTel.Configuration.default
        configuration.serviceName = settings.serviceName
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        if let scheduleDelay { configuration.traces.batchSpanProcessor.scheduleDelay = scheduleDelay }
        configuration.traces.otlpExporter.protocol = settings.encoding == .json ? .httpJSON : .httpProtobuf
        configuration.diagnosticLogger = .custom(
            Logger(label: "otel") { label in ExporterDiagnostics(label: label, counters: counters, forwardTo: logger) })
        // Debug, so the batch outcomes reach the counters; the forwarding handler keeps only warnings and worse.
        configuration.diagnosticLogLevel = .debug
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(backend.factory)
        logger.info(
            "Exporting traces",
            metadata: [
                "endpoint": "\(settings.tracesURL)", "encoding": "\(settings.encoding.rawValue)", "service": "\(settings.serviceName)",
                "headers": "\(settings.headerNames.joined(separator: ","))",
            ])
        return TraceExport(settings: settings, service: backend.service, counters: counters)
    }

    private init(settings: TraceSettings, service: any Service, counters: TraceExportCounters) {
        self.settings = settings
        self.service = service
        self.counters = counters
    }

    /// Waits until the exporter has sent (or failed to send) a batch that started after this call, for at most
    /// `limit`: for a process that may be frozen once it answers (a Lambda invocation), bootstrapped with a short
    /// schedule delay. (swift-otel's `forceFlush` is not used: it sends the queue without emptying it, so every
    /// span would go twice.) Returns whether a batch went.
    @discardableResult
    public func waitForExport(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        let before = counters.snapshot
        while ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
            let now = counters.snapshot
            if now.exportedBatches > before.exportedBatches || now.failedBatches > before.failedBatches { return true }
        }
        return false
    }
}

/// The exporter's outcomes, counted from its diagnostic log events (swift-otel reports them only there).
final class TraceExportCounters: Sendable {
    private let state = NIOLockedValueBox((statistics: TraceExport.Statistics(), failing: false))

    var snapshot: TraceExport.Statistics { state.withLockedValue { $0.statistics } }

    /// Counts one diagnostic event; returns whether it starts a failure streak (worth one warning).
    func record(message: String, metadata: Logger.Metadata) -> (firstFailure: Bool, recovered: Bool) {
        state.withLockedValue { state in
            switch message {
            case "Exported batch.":
                state.statistics.exportedBatches += 1
                defer { state.failing = false }
                return (false, state.failing)
            case "Failed to export batch.":
                state.statistics.failedBatches += 1
                defer { state.failing = true }
                return (!state.failing, false)
            case "Spans were dropped this iteration because queue was full":
                if case .string(let count)? = metadata["dropped_count"], let dropped = Int(count) {
                    state.statistics.droppedSpans += dropped
                } else if case .stringConvertible(let count)? = metadata["dropped_count"], let dropped = Int("\(count)") {
                    state.statistics.droppedSpans += dropped
                }
                return (false, false)
            default:
                return (false, false)
            }
        }
    }
}

/// swift-otel's diagnostic logger: counts its batch outcomes, and passes on warnings to the process's log, the first
/// failure of a streak as a warning and the rest at debug level (a collector that is down would fill the log).
struct ExporterDiagnostics: LogHandler {
    let label: String
    let counters: TraceExportCounters
    let forwardTo: Logger
    var metadata: Logger.Metadata = [:]
    /// Always debug, whatever `OTEL_LOG_LEVEL` asks of swift-otel's logger: the batch outcomes (debug events) are what
    /// the counters and ``TraceExport/waitForExport(within:)`` count; what reaches the process's log is filtered below.
    var logLevel: Logger.Level {
        get { .debug }
        set {}
    }

    init(label: String, counters: TraceExportCounters, forwardTo: Logger) {
        self.label = label
        self.counters = counters
        self.forwardTo = forwardTo
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let outcome = counters.record(message: event.message.description, metadata: merged)
        var level = event.level
        if event.message.description == "Failed to export batch." && !outcome.firstFailure { level = .debug }
        guard level >= .warning || outcome.recovered else { return }
        var shown: Logger.Metadata = [:]
        for key in ["error", "dropped_count", "queue_size", "batch_size"] { shown[key] = merged[key] }
        if outcome.recovered {
            forwardTo.info("Trace export works again")
        } else {
            forwardTo.log(level: level, "\(event.message)", metadata: shown, source: "OTel")
        }
    }
}
