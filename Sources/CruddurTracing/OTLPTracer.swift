import NIOConcurrencyHelpers
import NIOCore
import Synchronization
import Tracing

/// The process's tracer when traces are exported: W3C Trace Context propagation, the standard samplers, and finished
/// sampled spans handed to a bounded ``SpanQueue`` that ``TraceExport`` empties in batches.
///
/// A span is one object: its identity and its recorded values. It is the value a `ServiceContext` holds for its
/// children (a reference, so no boxing), and when it ends it is encoded at once into the queue's bytes, so the
/// exporter only frames and sends them and the span is freed where it was made. A leaf span whose attributes are
/// known at once (``recordLeafSpan(_:ofKind:in:_:_:)``) makes no object at all. Nothing on a request's path waits
/// for the exporter, and nothing hops to another task or actor.
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
        // A request's context is usually empty: no generic lookup for it.
        let parent = parentContext.isEmpty ? nil : parentContext.tracedSpan?.identity
        let (newTraceID, spanID) = ids.next(newTrace: parent == nil)
        let traceID = parent?.traceID ?? newTraceID
        let sampled = sampler.samples(traceID: traceID, parent: parent)
        let identity = SpanIdentity(traceID: traceID, spanID: spanID, sampled: sampled, traceState: parent?.traceState)
        return TracedSpan(
            operationName, kind: kind, parentContext: parentContext, identity: identity, parentSpanID: parent?.spanID,
            startNanoseconds: sampled ? start ?? DefaultTracerClock.now.nanosecondsSinceEpoch : 0, queue: sampled ? queue : nil)
    }

    /// A span that starts and ends now, under the span of `context`, with one or two attributes, and no object of
    /// its own: a local parent that is still running holds it and encodes it with itself, under one lock of the
    /// queue, when it ends; otherwise it is encoded into the queue at once. Nothing is made under a span that is not
    /// sampled.
    public func recordLeafSpan(
        _ operationName: String, ofKind kind: SpanKind, in context: ServiceContext, _ first: (key: String, value: TraceValue),
        _ second: (key: String, value: TraceValue)? = nil
    ) {
        let parentSpan = context.tracedSpan
        let parent = parentSpan?.identity
        // Under an unsampled span it would have no parent in the trace, whatever the sampler.
        if let parent, !parent.sampled { return }
        let (newTraceID, spanID) = ids.next(newTrace: parent == nil)
        let traceID = parent?.traceID ?? newTraceID
        guard sampler.samples(traceID: traceID, parent: parent) else { return }
        let leaf = LeafSpan(
            spanID: spanID, name: operationName, kind: kind, nanoseconds: DefaultTracerClock.now.nanosecondsSinceEpoch,
            attributes: .pair(key: first.key, value: first.value, secondKey: second?.key, secondValue: second?.value))
        if let parentSpan, parentSpan.hold(leaf) { return }
        let (header, state) = leaf.record(
            under: SpanIdentity(traceID: traceID, spanID: spanID, sampled: true, traceState: parent?.traceState), parentSpanID: parent?.spanID)
        queue.append(header, state)
    }

    /// Asks the exporter to send what is queued at its next look (a few milliseconds), without waiting.
    public func forceFlush() {
        queue.requestFlush()
    }

    public func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        guard let identity = context.tracedSpan?.identity else { return }
        injector.inject(identity.traceParent, forKey: "traceparent", into: &carrier)
        if let state = identity.traceState { injector.inject(state, forKey: "tracestate", into: &carrier) }
    }

    public func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        guard let traceParent = extractor.extract(key: "traceparent", from: carrier),
            let identity = SpanIdentity(traceParent: traceParent, traceState: extractor.extract(key: "tracestate", from: carrier))
        else { return }
        context.tracedSpan = TracedSpan(remote: identity, in: context)
    }
}

/// A span of ``OTLPTracer``. Unsampled spans record nothing (their identity still propagates); a sampled span is
/// encoded into the export queue when it ends, once (nothing changes it after its end).
public final class TracedSpan: Span, Sendable {
    /// The context the span was started in; ``context`` adds the span only when asked (a leaf span never is).
    let parentContext: ServiceContext
    public let identity: SpanIdentity
    let kind: SpanKind
    let parentSpanID: SpanID?
    let startNanoseconds: UInt64
    private let initialName: String
    /// The export queue; nil when the span is not sampled.
    private let queue: SpanQueue?
    private let state: Mutex<State>

    struct State {
        var name: String
        /// Attributes kept as fields: a server span's request (``end(serving:)``) or a leaf span's.
        var fixed: FixedAttributes?
        /// Set with ``TracedSpan/record(_:_:)``: no dictionary, no existential; merged with `attributes` on export.
        var recorded: [(key: String, value: TraceValue)] = []
        var attributes = SpanAttributes()
        var status: SpanStatus?
        var events: [SpanEvent] = []
        var links: [SpanLink] = []
        /// When the span ended; nil while it runs.
        var endNanoseconds: UInt64?
        /// A leaf span under this one (``OTLPTracer/recordLeafSpan(_:ofKind:in:_:_:)``), encoded with it at its end.
        var heldLeaf: LeafSpan?

        /// The name as exported: a server span's method and route once they are recorded.
        var exportedName: String {
            guard case .server(let server) = fixed, let route = server.route else { return name }
            return server.method + " " + route
        }
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
        state = Mutex(State(name: name))
    }

    /// A caller's span, known by its `traceparent`: the parent of this process's spans, never recorded here.
    convenience init(remote identity: SpanIdentity, in context: ServiceContext) {
        self.init(
            "", kind: .server, parentContext: context, identity: identity, parentSpanID: nil, startNanoseconds: 0, queue: nil)
    }

    /// The span's context: its parent's, with this span as the parent of whatever starts in it.
    public var context: ServiceContext {
        var context = parentContext
        context.tracedSpan = self
        return context
    }

    public var operationName: String {
        get { queue == nil ? initialName : state.withLock { $0.exportedName } }
        set {
            guard queue != nil else { return }
            state.withLock { $0.name = newValue }
        }
    }

    public var attributes: SpanAttributes {
        get { queue == nil ? [:] : state.withLock { $0.attributes } }
        set { updateAttributes { $0 = newValue } }
    }

    /// Changes the attributes in place, under one lock; does nothing (and does not call `update`) when not recording.
    public func updateAttributes(_ update: (inout SpanAttributes) -> Void) {
        guard queue != nil else { return }
        state.withLock { state in
            guard state.endNanoseconds == nil else { return }
            update(&state.attributes)
        }
    }

    /// Sets one attribute, the cheap way (an array of plain values, not Tracing's `SpanAttributes`); a no-op when
    /// not recording. Wins over an attribute of the same name set through ``attributes``.
    public func record(_ key: String, _ value: TraceValue) {
        guard queue != nil else { return }
        state.withLock { state in
            guard state.endNanoseconds == nil else { return }
            if let index = state.recorded.firstIndex(where: { $0.key == key }) {
                state.recorded[index].value = value
            } else {
                if state.recorded.isEmpty { state.recorded.reserveCapacity(4) }
                state.recorded.append((key, value))
            }
        }
    }

    /// Ends a server span with its request: its HTTP attributes as fields, written by the encoder under their
    /// semantic-convention names, and its name (`GET /api/activities/home`) once the route is known; a 5xx status
    /// marks the span as an error. One lock, no attribute storage; only ends it when not recording.
    public func end(serving request: HTTPServerAttributes) {
        guard let queue else { return }
        let now = DefaultTracerClock.now.nanosecondsSinceEpoch
        let header = header
        state.withLock { state in
            guard state.endNanoseconds == nil else { return }
            state.fixed = .server(request)
            if let code = request.statusCode, code >= 500, state.status?.code != .ok { state.status = SpanStatus(code: .error) }
            state.endNanoseconds = now
            queue.append(header, state)
        }
    }

    /// Keeps a leaf span to encode with this one; false when this span does not record, has ended, or holds one.
    func hold(_ leaf: LeafSpan) -> Bool {
        guard queue != nil else { return false }
        return state.withLock { state in
            guard state.endNanoseconds == nil, state.heldLeaf == nil else { return false }
            state.heldLeaf = leaf
            return true
        }
    }

    /// Whether the span is sampled and has not ended.
    public var isRecording: Bool { queue != nil && state.withLock { $0.endNanoseconds == nil } }

    public func setStatus(_ status: SpanStatus) {
        guard queue != nil else { return }
        state.withLock { state in
            // OpenTelemetry: Ok is final.
            guard state.endNanoseconds == nil, state.status?.code != .ok else { return }
            state.status = status
        }
    }

    public func addEvent(_ event: SpanEvent) {
        guard queue != nil else { return }
        state.withLock { state in
            guard state.endNanoseconds == nil, state.events.count < Self.eventLimit else { return }
            state.events.append(event)
        }
    }

    /// An `exception` event with the error's type only: an error's text may hold values (a message, a handle).
    public func recordError<Instant: TracerInstant>(_ error: Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        guard queue != nil else { return }
        var attributes = attributes
        attributes["exception.type"] = String(reflecting: type(of: error))
        addEvent(SpanEvent(name: "exception", at: instant(), attributes: attributes))
    }

    public func addLink(_ link: SpanLink) {
        guard queue != nil else { return }
        state.withLock { state in
            guard state.endNanoseconds == nil, state.links.count < Self.eventLimit else { return }
            state.links.append(link)
        }
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        guard queue != nil else { return }
        finish(at: instant().nanosecondsSinceEpoch)
    }

    /// Ends the span now (without Tracing's generic clock on the request path).
    public func end() {
        guard queue != nil else { return }
        finish(at: DefaultTracerClock.now.nanosecondsSinceEpoch)
    }

    private var header: SpanHeader {
        SpanHeader(identity: identity, parentSpanID: parentSpanID, kind: kind, startNanoseconds: startNanoseconds)
    }

    /// Ends the span once: it is encoded into the queue under its own lock (the queue's is taken inside it, never
    /// the other way round).
    private func finish(at endNanoseconds: UInt64) {
        guard let queue else { return }
        let header = header
        state.withLock { state in
            guard state.endNanoseconds == nil else { return }
            state.endNanoseconds = endNanoseconds
            queue.append(header, state)
        }
    }
}

/// A span that starts and ends at one instant with one or two attributes: the feed cache's decision.
struct LeafSpan: Sendable {
    var spanID: SpanID
    var name: String
    var kind: SpanKind
    var nanoseconds: UInt64
    var attributes: FixedAttributes

    /// The span as the encoder takes it, with its identity and its parent's span id.
    func record(under identity: SpanIdentity, parentSpanID: SpanID?) -> (SpanHeader, TracedSpan.State) {
        var state = TracedSpan.State(name: name)
        state.fixed = attributes
        state.endNanoseconds = nanoseconds
        return (SpanHeader(identity: identity, parentSpanID: parentSpanID, kind: kind, startNanoseconds: nanoseconds), state)
    }
}

/// What a span is besides its ``TracedSpan/State``: set when it starts.
struct SpanHeader {
    var identity: SpanIdentity
    var parentSpanID: SpanID?
    var kind: SpanKind
    var startNanoseconds: UInt64
}

/// Attributes a span keeps as fields rather than in an array: a server span's request, or a leaf span's one or two.
enum FixedAttributes: Sendable {
    case server(HTTPServerAttributes)
    case pair(key: String, value: TraceValue, secondKey: String?, secondValue: TraceValue?)

    /// How many attributes ``visit(_:)`` gives.
    var count: Int {
        switch self {
        case .server(let server): server.count
        case .pair(_, _, let secondKey, _): secondKey == nil ? 1 : 2
        }
    }

    /// Each attribute, by name.
    func visit(_ body: (String, TraceValue) -> Void) {
        switch self {
        case .server(let server): server.visit(body)
        case .pair(let key, let value, let secondKey, let secondValue):
            body(key, value)
            if let secondKey, let secondValue { body(secondKey, secondValue) }
        }
    }

    /// Whether an attribute of this name is among them (one recorded otherwise under it is not repeated).
    func contains(_ key: String) -> Bool {
        switch self {
        case .server: HTTPServerAttributes.names.contains(key)
        case .pair(let first, _, let second, _): first == key || second == key
        }
    }
}

/// A server span's request, as the stable HTTP semantic conventions name it: `http.request.method`, `url.path`,
/// `http.route`, `http.response.status_code`, with `url.scheme` `http` and `network.protocol.version` `1.1`, and
/// `cruddur.request_id`.
public struct HTTPServerAttributes: Sendable {
    public var method: String
    public var path: String
    public var requestID: String
    /// The matched route template (never the raw path).
    public var route: String?
    public var statusCode: Int?

    public init(method: String, path: String, requestID: String, route: String?, statusCode: Int?) {
        self.method = method
        self.path = path
        self.requestID = requestID
        self.route = route
        self.statusCode = statusCode
    }

    /// The attributes' names, which an attribute recorded on the same span under one of them does not repeat.
    static let names: Set<String> = [
        "http.request.method", "url.scheme", "url.path", "network.protocol.version", "cruddur.request_id", "http.route",
        "http.response.status_code", "error.type",
    ]
}

/// An attribute's value as OTLP carries it.
public enum TraceValue: Sendable {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case array([TraceValue])
}

/// Ended spans waiting for the exporter, already encoded: bounded (`OTEL_BSP_MAX_QUEUE_SIZE` spans); a span that
/// finds it full is dropped and counted, so a collector that is down or slow costs requests nothing.
///
/// The spans are kept in chunks of at most a batch (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`), each chunk the bytes of its
/// spans as the batch's request carries them: a batch leaves by taking the oldest chunk, with no copy under the lock.
final class SpanQueue: Sendable {
    let capacity: Int
    let batchSize: Int
    let encoder: OTLPEncoder
    private let state: Mutex<State>
    /// The queue's length as of its last change, read without the lock: a span that finds the queue full is
    /// neither encoded nor locked for.
    private let length = Atomic<Int>(0)
    private let droppedSpans = Atomic<Int>(0)

    private struct State {
        /// Full chunks, oldest first, and the chunk spans are added to.
        var full = CircularBuffer<Chunk>(initialCapacity: 8)
        var open: Chunk
        var count = 0
        var flushRequested = false
        /// Spans accepted since the start, and spans taken for export since the start: the queue is first in,
        /// first out, so a span accepted as the n-th has left once n have been taken and their batches finished.
        var accepted = 0
        var taken = 0
    }

    private struct Chunk {
        var spans: [UInt8] = []
        var count = 0

        init(batchSize: Int) {
            spans.reserveCapacity(batchSize * 256)
        }
    }

    init(capacity: Int, batchSize: Int = 512, encoder: OTLPEncoder = OTLPEncoder()) {
        self.capacity = capacity
        self.batchSize = max(1, min(batchSize, capacity))
        self.encoder = encoder
        state = Mutex(State(open: Chunk(batchSize: self.batchSize)))
    }

    /// Encodes an ended span (outside the lock), after the leaf span it holds if any, and adds them to the open
    /// chunk, unless the queue is full.
    func append(_ header: SpanHeader, _ span: borrowing TracedSpan.State) {
        let spans = span.heldLeaf == nil ? 1 : 2
        guard length.load(ordering: .relaxed) + spans <= capacity else {
            droppedSpans.wrappingAdd(spans, ordering: .relaxed)
            return
        }
        guard let leaf = span.heldLeaf else {
            encoder.withEncodedSpan(header, span) { bytes in
                state.withLock { state in add(bytes, to: &state) }
            }
            return
        }
        let (leafHeader, leafState) = leaf.record(
            under: SpanIdentity(
                traceID: header.identity.traceID, spanID: leaf.spanID, sampled: true, traceState: header.identity.traceState),
            parentSpanID: header.identity.spanID)
        encoder.withEncodedSpan(leafHeader, leafState) { leafBytes in
            encoder.withEncodedSpan(header, span) { bytes in
                state.withLock { state in
                    // Both or neither: a leaf without its parent would be an orphan in the trace.
                    guard state.count + 2 <= capacity else {
                        droppedSpans.wrappingAdd(2, ordering: .relaxed)
                        return
                    }
                    add(leafBytes, to: &state)
                    add(bytes, to: &state)
                }
            }
        }
    }

    /// One encoded span into the open chunk (which is first closed if it holds a batch), or dropped when full.
    private func add(_ bytes: UnsafeRawBufferPointer, to state: inout State) {
        guard state.count < capacity else {
            droppedSpans.wrappingAdd(1, ordering: .relaxed)
            return
        }
        if state.open.count >= batchSize {
            state.full.append(state.open)
            state.open = Chunk(batchSize: batchSize)
        }
        if encoder.encoding == .json, state.open.count > 0 { state.open.spans.append(UInt8(ascii: ",")) }
        state.open.spans.append(contentsOf: bytes)
        state.open.count += 1
        state.count += 1
        length.store(state.count, ordering: .relaxed)
        state.accepted += 1
    }

    var count: Int { state.withLock { $0.count } }

    /// Spans dropped since the start.
    var dropped: Int { droppedSpans.load(ordering: .relaxed) }

    func requestFlush() {
        state.withLock { $0.flushRequested = true }
    }

    /// Whether a flush was asked for since the last call.
    func takeFlushRequest() -> Bool {
        state.withLock { state in
            defer { state.flushRequested = false }
            return state.flushRequested
        }
    }

    /// How many spans the queue has accepted since the start.
    var accepted: Int { state.withLock { $0.accepted } }

    /// The oldest batch (at most `batchSize` spans) as the request that carries it, removed from the queue; how many
    /// spans it holds; and how many spans have been taken since the start with it: once it is sent, every span
    /// accepted up to that count has left. Nil when the queue is empty.
    func takeBatch() -> (body: [UInt8], count: Int, through: Int)? {
        // Made before the lock, in case the open chunk is the one taken.
        var fresh = Chunk(batchSize: batchSize)
        let taken: (Chunk, Int)? = state.withLock { state in
            let chunk: Chunk
            if let full = state.full.popFirst() {
                chunk = full
            } else if state.open.count > 0 {
                swap(&fresh, &state.open)
                chunk = fresh
            } else {
                return nil
            }
            state.count -= chunk.count
            length.store(state.count, ordering: .relaxed)
            state.taken += chunk.count
            return (chunk, state.taken)
        }
        guard let (chunk, through) = taken else { return nil }
        return (encoder.request(spans: chunk.spans), chunk.count, through)
    }
}

enum TracedSpanKey: ServiceContextKey {
    typealias Value = TracedSpan
    static var nameOverride: String? { "w3c-span" }
}

extension ServiceContext {
    /// The span whose children start in this context: one of this process, or a caller's (``TracedSpan/init(remote:in:)``).
    var tracedSpan: TracedSpan? {
        get { self[TracedSpanKey.self] }
        set { self[TracedSpanKey.self] = newValue }
    }
}
