import AsyncHTTPClient
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Tracing

/// Exports this process's spans over OTLP/HTTP: the tracer (``OTLPTracer``), its bounded queue, and the service
/// that sends the queue in batches.
///
/// Spans wait in the queue (`OTEL_BSP_MAX_QUEUE_SIZE`, 2048 by default) and leave in batches of
/// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` whenever that many are waiting, and every `OTEL_BSP_SCHEDULE_DELAY` otherwise,
/// one batch at a time. A collector that is down or hangs never holds up a request: the queue fills, further spans
/// are dropped and counted in ``statistics``.
public final class TraceExport: Sendable {
    public let settings: TraceSettings
    /// The process's tracer (also installed as `InstrumentationSystem`'s): hold it to skip the global lookup.
    public let tracer: OTLPTracer
    /// Sends the batches; add it to the process's `ServiceGroup` (at graceful shutdown it sends what is left).
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

    public var statistics: Statistics {
        var statistics = counters.snapshot
        statistics.droppedSpans = tracer.queue.dropped
        return statistics
    }

    /// Makes the exporter and installs its tracer as the process's (`InstrumentationSystem`: once per process).
    /// `scheduleDelay` replaces the default 5 s between batches unless `OTEL_BSP_SCHEDULE_DELAY` is set.
    public static func bootstrap(_ settings: TraceSettings, scheduleDelay: Duration? = nil, logger: Logger) throws -> TraceExport {
        let export = TraceExport(settings: settings, scheduleDelay: settings.scheduleDelay ?? scheduleDelay ?? .seconds(5), logger: logger)
        InstrumentationSystem.bootstrap(export.tracer)
        logger.info(
            "Exporting traces",
            metadata: [
                "endpoint": "\(settings.tracesURL)", "encoding": "\(settings.encoding.rawValue)", "service": "\(settings.serviceName)",
                "headers": "\(settings.headerNames.joined(separator: ","))",
            ])
        return export
    }

    private init(settings: TraceSettings, scheduleDelay: Duration, logger: Logger) {
        let counters = TraceExportCounters()
        let encoder = OTLPEncoder(settings: settings)
        let queue = SpanQueue(capacity: settings.maxQueueSize, batchSize: settings.maxExportBatchSize, encoder: encoder)
        self.settings = settings
        self.counters = counters
        tracer = OTLPTracer(sampler: settings.sampler, queue: queue)
        service = SpanBatcher(
            queue: queue, settings: settings, scheduleDelay: scheduleDelay, contentType: encoder.contentType, counters: counters,
            logger: logger)
    }

    /// Waits until every span ended before this call has been sent (or its batch has failed), for at most `limit`:
    /// for a process that may be frozen once it answers (a Lambda invocation), bootstrapped with a short schedule
    /// delay. Returns whether they went. A batch already on its way when this is called does not count unless it
    /// carries them: the queue is first in, first out, and each finished batch records how far it reached.
    @discardableResult
    public func waitForExport(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        let target = tracer.queue.accepted
        guard counters.finishedThrough < target else { return true }
        tracer.forceFlush()
        while ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
            if counters.finishedThrough >= target { return true }
        }
        return false
    }
}

/// Batches sent and failed; a failure streak is one warning, and its end one info line.
final class TraceExportCounters: Sendable {
    private let state = NIOLockedValueBox((statistics: TraceExport.Statistics(), failing: false, finishedThrough: 0))

    var snapshot: TraceExport.Statistics { state.withLockedValue { $0.statistics } }

    /// The queue's take count (``SpanQueue/takeBatch(upTo:)``) at the last finished batch: every span accepted up to
    /// it has been sent or has failed.
    var finishedThrough: Int { state.withLockedValue { $0.finishedThrough } }

    /// Counts one batch, which reached `through` in the queue; returns whether it starts a failure streak, or ends one.
    func record(success: Bool, through: Int) -> (firstFailure: Bool, recovered: Bool) {
        state.withLockedValue { state in
            state.finishedThrough = max(state.finishedThrough, through)
            defer { state.failing = !success }
            if success {
                state.statistics.exportedBatches += 1
                return (false, state.failing)
            }
            state.statistics.failedBatches += 1
            return (!state.failing, false)
        }
    }
}

/// The service that empties the queue: it looks every few milliseconds (at most the schedule delay) and sends a
/// batch when a full one waits, the delay has passed, or a flush was asked for.
struct SpanBatcher: Service, CustomStringConvertible {
    let queue: SpanQueue
    let settings: TraceSettings
    let scheduleDelay: Duration
    let contentType: String
    let counters: TraceExportCounters
    let logger: Logger

    /// What ServiceLifecycle's log lines call it (never the settings: a header may hold a key).
    var description: String { "TraceExport" }

    func run() async throws {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: TimeAmount(settings.requestTimeout), read: TimeAmount(settings.requestTimeout))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        // The exporter's own requests are not traced: each would be a span to export, and so on for ever.
        configuration.tracing.tracer = nil
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration, backgroundActivityLogger: logger)
        let sender = OTLPSender(client: client, settings: settings, contentType: contentType)
        let stopping = NIOLockedValueBox(false)
        await withGracefulShutdownHandler {
            let look = min(scheduleDelay, .milliseconds(25))
            var due = ContinuousClock.now + scheduleDelay
            while !stopping.withLockedValue({ $0 }) && !Task.isCancelled {
                try? await Task.sleep(for: look)
                var scheduled = ContinuousClock.now >= due || queue.takeFlushRequest()
                if scheduled { due = ContinuousClock.now + scheduleDelay }
                while queue.count >= settings.maxExportBatchSize || (scheduled && queue.count > 0) {
                    await send(queue.takeBatch(), with: sender, deadline: .now + settings.exportTimeout)
                    scheduled = false
                }
            }
        } onGracefulShutdown: {
            stopping.withLockedValue { $0 = true }
        }
        // What is left leaves now, all of it within one export timeout.
        logger.debug("Sending the spans left", metadata: ["count": "\(queue.count)"])
        let deadline = ContinuousClock.now + settings.exportTimeout
        while queue.count > 0 && ContinuousClock.now < deadline {
            await send(queue.takeBatch(), with: sender, deadline: deadline)
        }
        logger.debug("Closing the trace exporter's connections")
        try? await client.shutdown()
        logger.debug("Trace export stopped")
    }

    private func send(_ taken: (body: [UInt8], count: Int, through: Int)?, with sender: OTLPSender, deadline: ContinuousClock.Instant) async {
        guard let taken else { return }
        let result = await sender.send(taken.body, deadline: deadline)
        let outcome = counters.record(success: result == nil, through: taken.through)
        if let failure = result, outcome.firstFailure {
            logger.warning(
                "Failed to export batch of spans; further failures are logged at debug level until one succeeds",
                metadata: ["error": "\(failure)", "batch_size": "\(taken.count)", "endpoint": "\(settings.tracesURL)"])
        } else if let failure = result {
            logger.debug("Failed to export batch of spans", metadata: ["error": "\(failure)", "batch_size": "\(taken.count)"])
        } else if outcome.recovered {
            logger.info("Trace export works again")
        }
    }
}

/// One batch's POST to the collector, retried with backoff on the statuses OTLP calls transient (429, 502, 503,
/// 504) until the batch's deadline.
struct OTLPSender: Sendable {
    let client: HTTPClient
    let settings: TraceSettings
    let contentType: String

    /// Nil when the collector took the batch; otherwise why not.
    func send(_ body: [UInt8], deadline: ContinuousClock.Instant) async -> ExportFailure? {
        var attempt = 0
        while true {
            let remaining = deadline - .now
            guard remaining > .zero else { return .timedOut }
            var request = HTTPClientRequest(url: settings.tracesURL)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: contentType)
            request.headers.add(name: "User-Agent", value: "cruddur-otlp")
            for header in settings.headers { request.headers.add(name: header.name, value: header.value) }
            request.body = .bytes(ByteBuffer(bytes: body))
            let failure: ExportFailure
            var retryAfter: Duration?
            do {
                let response = try await client.execute(request, timeout: TimeAmount(min(remaining, settings.requestTimeout)))
                _ = try? await response.body.collect(upTo: 1 << 16)
                if (200..<300).contains(response.status.code) { return nil }
                failure = .status(Int(response.status.code))
                guard [429, 502, 503, 504].contains(response.status.code) else { return failure }
                retryAfter = response.headers.first(name: "Retry-After").flatMap { Int($0) }.map { .seconds(min(max($0, 0), 60)) }
            } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
                return .timedOut
            } catch {
                return .unreachable("\(type(of: error))")
            }
            // Exponential backoff with jitter: 100 ms, 200 ms, … at most 5 s, or what Retry-After asks.
            let backoff = retryAfter ?? .milliseconds(min(Int.random(in: 50...100) << min(attempt, 6), 5_000))
            attempt += 1
            guard ContinuousClock.now + backoff < deadline else { return failure }
            try? await Task.sleep(for: backoff)
        }
    }
}

/// Why a batch did not reach the collector.
enum ExportFailure: Error, Equatable, CustomStringConvertible {
    case status(Int)
    case timedOut
    case unreachable(String)

    var description: String {
        switch self {
        case .status(let code): "the collector answered HTTP \(code)"
        case .timedOut: "the collector did not answer within the export timeout"
        case .unreachable(let kind): "the collector could not be reached (\(kind))"
        }
    }
}
