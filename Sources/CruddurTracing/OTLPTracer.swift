import NIOConcurrencyHelpers
import Tracing

/// The process's tracer when traces are exported: W3C Trace Context propagation, the standard samplers, and finished
/// sampled spans handed to a bounded ``SpanQueue`` that ``TraceExport`` empties in batches.
///
/// A span costs one allocation and a lock when sampled, and less when not; nothing on a request's path waits for the
/// exporter, and nothing hops to another task or actor.
public final class OTLPTracer: Tracer, Sendable {
    public typealias Span = TracedSpan

    let sampler: TraceSampler
    let queue: SpanQueue
    private let ids = IDGenerator()

    init(sampler: TraceSampler, queue: SpanQueue) {
        self.sampler = sampler
        self.queue = queue
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> TracedSpan {
        startSpan(operationName, in: context(), ofKind: kind, at: instant().nanosecondsSinceEpoch)
    }

    /// A span started now in `context`: what the request path calls, with no generic clock or call-site arguments.
    public func startSpan(_ operationName: String, in context: ServiceContext, ofKind kind: SpanKind) -> TracedSpan {
        startSpan(operationName, in: context, ofKind: kind, at: nil)
    }

    private func startSpan(_ operationName: String, in parentContext: ServiceContext, ofKind kind: SpanKind, at start: UInt64?) -> TracedSpan {
        let parent = parentContext.spanIdentity
        let (newTraceID, spanID) = ids.next(newTrace: parent == nil)
        let traceID = parent?.traceID ?? newTraceID
        let sampled = sampler.samples(traceID: traceID, parent: parent)
        let identity = SpanIdentity(traceID: traceID, spanID: spanID, sampled: sampled, traceState: parent?.traceState)
        return TracedSpan(
            operationName, kind: kind, parentContext: parentContext, identity: identity, parentSpanID: parent?.spanID,
            startNanoseconds: sampled ? start ?? DefaultTracerClock.now.nanosecondsSinceEpoch : 0, queue: sampled ? queue : nil)
    }

    /// Asks the exporter to send what is queued at its next look (a few milliseconds), without waiting.
    public func forceFlush() {
        queue.requestFlush()
    }

    public func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        guard let identity = context.spanIdentity else { return }
        injector.inject(identity.traceParent, forKey: "traceparent", into: &carrier)
        if let state = identity.traceState { injector.inject(state, forKey: "tracestate", into: &carrier) }
    }

    public func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        guard let traceParent = extractor.extract(key: "traceparent", from: carrier),
            let identity = SpanIdentity(traceParent: traceParent, traceState: extractor.extract(key: "tracestate", from: carrier))
        else { return }
        context.spanIdentity = identity
    }
}

/// A span of ``OTLPTracer``. Unsampled spans record nothing (their identity still propagates); a sampled span goes
/// to the export queue when it ends, once.
public final class TracedSpan: Span, Sendable {
    /// The context the span was started in; ``context`` adds the span's identity only when asked (a leaf span never is).
    let parentContext: ServiceContext
    public let identity: SpanIdentity
    let kind: SpanKind
    let parentSpanID: SpanID?
    let startNanoseconds: UInt64
    private let initialName: String
    private let recording: NIOLockedValueBox<State>?
    private let queue: SpanQueue?

    struct State {
        init(name: String) {
            self.name = name
            recorded.reserveCapacity(12)
        }

        var name: String
        /// Set with ``TracedSpan/record(_:_:)``: no dictionary, no existential; merged with `attributes` on export.
        var recorded: [(key: String, value: TraceValue)] = []
        var attributes = SpanAttributes()
        var status: SpanStatus?
        var events: [SpanEvent] = []
        var links: [SpanLink] = []
        var ended = false
    }

    /// Events and links kept per span (OpenTelemetry's default limits); more are dropped.
    static let eventLimit = 128

    init(
        _ name: String, kind: SpanKind, parentContext: ServiceContext, identity: SpanIdentity, parentSpanID: SpanID?,
        startNanoseconds: UInt64, queue: SpanQueue?
    ) {
        self.parentContext = parentContext
        self.identity = identity
        self.kind = kind
        self.parentSpanID = parentSpanID
        self.startNanoseconds = startNanoseconds
        self.initialName = name
        self.queue = queue
        recording = queue == nil ? nil : NIOLockedValueBox(State(name: name))
    }

    /// The span's context: its parent's, with this span's identity.
    public var context: ServiceContext {
        var context = parentContext
        context.spanIdentity = identity
        return context
    }

    public var operationName: String {
        get { recording?.withLockedValue { $0.name } ?? initialName }
        set { recording?.withLockedValue { $0.name = newValue } }
    }

    public var attributes: SpanAttributes {
        get { recording?.withLockedValue { $0.attributes } ?? [:] }
        set { recording?.withLockedValue { $0.attributes = newValue } }
    }

    /// Changes the attributes in place, under one lock; does nothing (and does not call `update`) when not recording.
    public func updateAttributes(_ update: (inout SpanAttributes) -> Void) {
        recording?.withLockedValue { state in
            guard !state.ended else { return }
            update(&state.attributes)
        }
    }

    /// Sets one attribute, the cheap way (an array of plain values, not Tracing's `SpanAttributes`); a no-op when
    /// not recording. Wins over an attribute of the same name set through ``attributes``.
    public func record(_ key: String, _ value: TraceValue) {
        recording?.withLockedValue { state in
            guard !state.ended else { return }
            if let index = state.recorded.firstIndex(where: { $0.key == key }) {
                state.recorded[index].value = value
            } else {
                state.recorded.append((key, value))
            }
        }
    }

    public var isRecording: Bool { recording?.withLockedValue { !$0.ended } ?? false }

    public func setStatus(_ status: SpanStatus) {
        recording?.withLockedValue { state in
            // OpenTelemetry: Ok is final.
            guard !state.ended, state.status?.code != .ok else { return }
            state.status = status
        }
    }

    public func addEvent(_ event: SpanEvent) {
        recording?.withLockedValue { state in
            guard !state.ended, state.events.count < Self.eventLimit else { return }
            state.events.append(event)
        }
    }

    /// An `exception` event with the error's type only: an error's text may hold values (a message, a handle).
    public func recordError<Instant: TracerInstant>(_ error: Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        guard recording != nil else { return }
        var attributes = attributes
        attributes["exception.type"] = String(reflecting: type(of: error))
        addEvent(SpanEvent(name: "exception", at: instant(), attributes: attributes))
    }

    public func addLink(_ link: SpanLink) {
        recording?.withLockedValue { state in
            guard !state.ended, state.links.count < Self.eventLimit else { return }
            state.links.append(link)
        }
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        finish { instant().nanosecondsSinceEpoch }
    }

    /// Ends the span now (without Tracing's generic clock on the request path).
    public func end() {
        finish { DefaultTracerClock.now.nanosecondsSinceEpoch }
    }

    private func finish(at endNanoseconds: () -> UInt64) {
        guard let recording, let queue else { return }
        let ended: State? = recording.withLockedValue { state in
            guard !state.ended else { return nil }
            state.ended = true
            return state
        }
        guard let ended else { return }
        queue.append(
            FinishedSpan(
                name: ended.name, kind: kind, identity: identity, parentSpanID: parentSpanID, startNanoseconds: startNanoseconds,
                endNanoseconds: endNanoseconds(), recorded: ended.recorded, attributes: ended.attributes, status: ended.status,
                events: ended.events, links: ended.links))
    }
}

/// An attribute's value as OTLP carries it.
public enum TraceValue: Sendable {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case array([TraceValue])
}

/// What the exporter sends of a span.
struct FinishedSpan: Sendable {
    var name: String
    var kind: SpanKind
    var identity: SpanIdentity
    var parentSpanID: SpanID?
    var startNanoseconds: UInt64
    var endNanoseconds: UInt64
    var recorded: [(key: String, value: TraceValue)]
    var attributes: SpanAttributes
    var status: SpanStatus?
    var events: [SpanEvent]
    var links: [SpanLink]
}

/// Finished spans waiting for the exporter: bounded (`OTEL_BSP_MAX_QUEUE_SIZE`); a span that finds it full is
/// dropped and counted, so a collector that is down or slow costs requests nothing.
final class SpanQueue: Sendable {
    let capacity: Int
    private let state: NIOLockedValueBox<State>

    private struct State {
        var spans: [FinishedSpan] = []
        var dropped = 0
        var flushRequested = false
        /// Spans accepted since the start, and spans taken for export since the start: the queue is first in,
        /// first out, so a span accepted as the n-th has left once n have been taken and their batches finished.
        var accepted = 0
        var taken = 0
    }

    init(capacity: Int) {
        self.capacity = capacity
        state = NIOLockedValueBox(State())
    }

    func append(_ span: FinishedSpan) {
        state.withLockedValue { state in
            if state.spans.count < capacity {
                state.spans.append(span)
                state.accepted += 1
            } else {
                state.dropped += 1
            }
        }
    }

    var count: Int { state.withLockedValue { $0.spans.count } }

    /// Spans dropped since the start.
    var dropped: Int { state.withLockedValue { $0.dropped } }

    func requestFlush() {
        state.withLockedValue { $0.flushRequested = true }
    }

    /// Whether a flush was asked for since the last call.
    func takeFlushRequest() -> Bool {
        state.withLockedValue { state in
            defer { state.flushRequested = false }
            return state.flushRequested
        }
    }

    /// How many spans the queue has accepted since the start.
    var accepted: Int { state.withLockedValue { $0.accepted } }

    /// The oldest `limit` spans, removed from the queue.
    func take(upTo limit: Int) -> [FinishedSpan] {
        takeBatch(upTo: limit).spans
    }

    /// The oldest `limit` spans, removed from the queue, and how many spans have been taken since the start with
    /// these: once this batch is sent, every span accepted up to that count has left.
    func takeBatch(upTo limit: Int) -> (spans: [FinishedSpan], through: Int) {
        state.withLockedValue { state in
            let count = min(limit, state.spans.count)
            let batch = Array(state.spans.prefix(count))
            state.spans.removeFirst(count)
            state.taken += count
            return (batch, state.taken)
        }
    }
}
