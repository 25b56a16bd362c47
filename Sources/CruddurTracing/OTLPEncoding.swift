import CruddurLogging
import Tracing

/// An `ExportTraceServiceRequest` (OTLP 1.x, `opentelemetry/proto/collector/trace/v1`), in the binary protobuf
/// encoding or OTLP/JSON: one resource (the process), one instrumentation scope, the batch's spans.
///
/// Spans are encoded one by one as they end (``withEncodedSpan(_:_:_:)``), into the bytes a batch's
/// request carries them as; ``request(spans:)`` puts a batch's spans in their envelope.
struct OTLPEncoder: Sendable {
    let encoding: TraceSettings.Encoding
    /// The resource's attributes: `service.name`, the SDK's, and `OTEL_RESOURCE_ATTRIBUTES`.
    let resource: [(key: String, value: String)]
    /// What comes before a batch's spans, once: `ResourceSpans.resource` and `ScopeSpans.scope` (protobuf), or the
    /// document up to the spans' array (JSON).
    private let resourceField: [UInt8]
    private let scopeField: [UInt8]

    /// Attributes kept per span, event and link (OpenTelemetry's default limit); the rest are counted as dropped.
    static let attributeLimit = 128
    static let scopeName = "cruddur"

    init(settings: TraceSettings) {
        self.init(encoding: settings.encoding, serviceName: settings.serviceName, resourceAttributes: settings.resourceAttributes)
    }

    init(encoding: TraceSettings.Encoding = .protobuf, serviceName: String = "cruddur", resourceAttributes: [String: String] = [:]) {
        self.encoding = encoding
        var resource = resourceAttributes
        resource["service.name"] = serviceName
        resource["telemetry.sdk.language"] = "swift"
        resource["telemetry.sdk.name"] = "cruddur"
        let sorted = resource.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
        self.resource = sorted
        switch encoding {
        case .protobuf:
            var resourceWriter = ProtobufWriter()
            resourceWriter.message(1) { resource in // ResourceSpans.resource
                for (key, value) in sorted { resource.keyValue(1, key, .string(value)) }
            }
            resourceField = resourceWriter.bytes
            var scopeWriter = ProtobufWriter()
            scopeWriter.message(1) { $0.string(1, Self.scopeName) } // ScopeSpans.scope: name
            scopeField = scopeWriter.bytes
        case .json:
            var writer = JSONWriter()
            writer.raw(#"{"resourceSpans":[{"resource":{"attributes":["#)
            for (index, (key, value)) in sorted.enumerated() {
                if index > 0 { writer.raw(",") }
                writer.keyValue(key, .string(value))
            }
            writer.raw(#"]},"scopeSpans":[{"scope":{"name":"#)
            writer.string(Self.scopeName)
            writer.raw(#"},"spans":["#)
            resourceField = writer.bytes
            scopeField = Array("]}]}]}".utf8)
        }
    }

    var contentType: String { encoding == .json ? "application/json" : "application/x-protobuf" }

    /// Gives `body` one span's bytes as a batch's request carries them: a `ScopeSpans.spans` field (protobuf; the
    /// usual span written on the stack), or the span's object (JSON; the queue puts the commas between them).
    func withEncodedSpan(_ header: SpanHeader, _ state: borrowing TracedSpan.State, _ body: (UnsafeRawBufferPointer) -> Void) {
        switch encoding {
        case .protobuf:
            if SpanRecordWriter.withFramedSpan(header, state, body) { return }
            // Events, links or array values: the general writer.
            var writer = ProtobufWriter()
            writer.span(header, state)
            var framing = ProtobufWriter()
            framing.lengthDelimited(2, writer.bytes) // ScopeSpans.spans
            framing.bytes.withUnsafeBytes(body)
        case .json:
            var writer = JSONWriter()
            writer.span(header, state)
            writer.bytes.withUnsafeBytes(body)
        }
    }

    /// The `ExportTraceServiceRequest` of a batch, around its spans, one after the other as ``withEncodedSpan(_:_:_:)`` gave them (with commas between them in JSON).
    func request(spans: [UInt8]) -> [UInt8] {
        var body: [UInt8] = []
        switch encoding {
        case .protobuf:
            let scopeSpans = scopeField.count + spans.count
            let resourceSpans = resourceField.count + 1 + ProtobufWriter.varintSize(UInt64(scopeSpans)) + scopeSpans
            var writer = ProtobufWriter()
            writer.bytes.reserveCapacity(resourceSpans + 8)
            writer.header(1, length: resourceSpans) // ExportTraceServiceRequest.resource_spans
            writer.bytes.append(contentsOf: resourceField)
            writer.header(2, length: scopeSpans) // ResourceSpans.scope_spans
            writer.bytes.append(contentsOf: scopeField)
            writer.bytes.append(contentsOf: spans)
            body = writer.bytes
        case .json:
            body.reserveCapacity(resourceField.count + spans.count + scopeField.count)
            body.append(contentsOf: resourceField)
            body.append(contentsOf: spans)
            body.append(contentsOf: scopeField)
        }
        return body
    }
}

extension SpanKind {
    /// OTLP's `Span.SpanKind`.
    var otlpValue: UInt64 {
        switch self {
        case .internal: 1
        case .server: 2
        case .client: 3
        case .producer: 4
        case .consumer: 5
        }
    }
}

extension SpanStatus.Code {
    /// OTLP's `Status.StatusCode`.
    var otlpValue: UInt64 {
        switch self {
        case .ok: 1
        case .error: 2
        }
    }
}

extension TraceValue {
    /// A Tracing attribute as OTLP's `AnyValue` carries it; nil for kinds it does not know.
    init?(_ attribute: SpanAttribute) {
        switch attribute {
        case .int32(let value): self = .int(Int64(value))
        case .int64(let value): self = .int(value)
        case .double(let value): self = .double(value)
        case .bool(let value): self = .bool(value)
        case .string(let value): self = .string(value)
        case .stringConvertible(let value): self = .string(value.description)
        case .int32Array(let values): self = .array(values.map { .int(Int64($0)) })
        case .int64Array(let values): self = .array(values.map { .int($0) })
        case .doubleArray(let values): self = .array(values.map { .double($0) })
        case .boolArray(let values): self = .array(values.map { .bool($0) })
        case .stringArray(let values): self = .array(values.map { .string($0) })
        case .stringConvertibleArray(let values): self = .array(values.map { .string($0.description) })
        default: return nil
        }
    }
}

/// The attributes that fit the limit (the fixed ones first, then those recorded directly, then the
/// Tracing API's not overridden by them), and how many did not.
func limited(
    _ recorded: [(key: String, value: TraceValue)], _ attributes: SpanAttributes, fixed: FixedAttributes? = nil
) -> (
    kept: [(key: String, value: TraceValue)], dropped: Int
) {
    // The request path's spans only `record`, or keep theirs as fields: nothing to merge, and the array is returned
    // without a copy.
    if attributes.isEmpty, recorded.isEmpty || (fixed == nil && recorded.count <= OTLPEncoder.attributeLimit) { return (recorded, 0) }
    let limit = OTLPEncoder.attributeLimit - (fixed?.count ?? 0)
    var kept: [(key: String, value: TraceValue)] = []
    var dropped = 0
    for attribute in recorded where fixed?.contains(attribute.key) != true {
        guard kept.count < limit else {
            dropped += 1
            continue
        }
        kept.append(attribute)
    }
    // SpanAttributes offers forEach, not a Sequence.
    // swift-format-ignore: ReplaceForEachWithForLoop
    attributes.forEach { key, attribute in
        guard !recorded.contains(where: { $0.key == key }), fixed?.contains(key) != true else { return }
        guard kept.count < limit, let value = TraceValue(attribute) else {
            dropped += 1
            return
        }
        kept.append((key, value))
    }
    return (kept, dropped)
}

extension HTTPServerAttributes {
    /// How many attributes ``visit(_:)`` gives.
    var count: Int { 5 + (route == nil ? 0 : 1) + (statusCode == nil ? 0 : 1) + ((statusCode ?? 0) >= 500 ? 1 : 0) }

    /// Each attribute under its semantic-convention name.
    func visit(_ body: (String, TraceValue) -> Void) {
        body("http.request.method", .string(method))
        body("url.scheme", .string("http"))
        body("url.path", .string(path))
        body("network.protocol.version", .string("1.1"))
        body("cruddur.request_id", .string(requestID))
        if let route { body("http.route", .string(route)) }
        if let statusCode {
            body("http.response.status_code", .int(Int64(statusCode)))
            if statusCode >= 500 { body("error.type", .string(String(statusCode))) }
        }
    }
}

/// Protocol Buffers' binary encoding, field by field. An attribute's length is computed before it is written; another
/// nested message's is patched in after it.
struct ProtobufWriter {
    var bytes: [UInt8] = []

    private enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    private mutating func tag(_ field: UInt64, _ type: WireType) {
        varint(field << 3 | type.rawValue)
    }

    private mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func uint(_ field: UInt64, _ value: UInt64) {
        guard value != 0 else { return }
        tag(field, .varint)
        varint(value)
    }

    /// How many bytes `varint` writes for `value`.
    static func varintSize(_ value: UInt64) -> Int {
        (64 - value.leadingZeroBitCount + 6) / 7 + (value == 0 ? 1 : 0)
    }

    mutating func fixed64(_ field: UInt64, _ value: UInt64) {
        tag(field, .fixed64)
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func fixed32(_ field: UInt64, _ value: UInt32) {
        tag(field, .fixed32)
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// A trace id as its 16 big-endian bytes, without building an array.
    mutating func id(_ field: UInt64, _ id: TraceID) {
        tag(field, .lengthDelimited)
        varint(16)
        bigEndian(id.high)
        bigEndian(id.low)
    }

    /// A span id as its 8 big-endian bytes.
    mutating func id(_ field: UInt64, _ id: SpanID) {
        tag(field, .lengthDelimited)
        varint(8)
        bigEndian(id.value)
    }

    private mutating func bigEndian(_ word: UInt64) {
        withUnsafeBytes(of: word.bigEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ field: UInt64, _ text: String) {
        tag(field, .lengthDelimited)
        varint(UInt64(text.utf8.count))
        bytes.append(contentsOf: text.utf8)
    }

    mutating func message(_ field: UInt64, _ body: (inout ProtobufWriter) -> Void) {
        tag(field, .lengthDelimited)
        let lengthAt = bytes.count
        bytes.append(0)
        body(&self)
        var length = UInt64(bytes.count - lengthAt - 1)
        let size = Self.varintSize(length)
        if size > 1 { bytes.insert(contentsOf: repeatElement(0, count: size - 1), at: lengthAt + 1) }
        for index in lengthAt..<lengthAt + size {
            bytes[index] = UInt8(truncatingIfNeeded: length) | (index < lengthAt + size - 1 ? 0x80 : 0)
            length >>= 7
        }
    }

    /// A nested message's tag and length, its content to follow.
    mutating func header(_ field: UInt64, length: Int) {
        tag(field, .lengthDelimited)
        varint(UInt64(length))
    }

    /// A nested message already written (by another writer), with its length.
    mutating func lengthDelimited(_ field: UInt64, _ content: [UInt8]) {
        tag(field, .lengthDelimited)
        varint(UInt64(content.count))
        bytes.append(contentsOf: content)
    }

    /// `AnyValue`.
    private mutating func value(_ value: TraceValue) {
        switch value {
        case .string(let text): string(1, text)
        case .bool(let flag):
            tag(2, .varint)
            varint(flag ? 1 : 0)
        case .int(let number):
            tag(3, .varint)
            varint(UInt64(bitPattern: number))
        case .double(let number): fixed64(4, number.bitPattern)
        case .array(let values):
            message(5) { array in
                for element in values { array.message(1) { $0.value(element) } }
            }
        }
    }

    /// The size of `value` as ``value(_:)`` writes it; nil for an array (written as a patched message).
    static func valueSize(_ value: TraceValue) -> Int? {
        switch value {
        case .string(let text):
            let count = text.utf8.count
            return 1 + varintSize(UInt64(count)) + count
        case .bool: return 2
        case .int(let number): return 1 + varintSize(UInt64(bitPattern: number))
        case .double: return 9
        case .array: return nil
        }
    }

    /// A `KeyValue` at `field`, its length computed first (no patching).
    fileprivate mutating func keyValue(_ field: UInt64, _ key: String, _ value: TraceValue) {
        guard let valueSize = Self.valueSize(value) else {
            message(field) { keyValue in
                keyValue.string(1, key)
                keyValue.message(2) { $0.value(value) }
            }
            return
        }
        let keyCount = key.utf8.count
        tag(field, .lengthDelimited)
        varint(UInt64(1 + Self.varintSize(UInt64(keyCount)) + keyCount + 1 + Self.varintSize(UInt64(valueSize)) + valueSize))
        string(1, key)
        tag(2, .lengthDelimited)
        varint(UInt64(valueSize))
        self.value(value)
    }

    /// Repeated `KeyValue` at `field`, and the dropped count at `droppedField`.
    private mutating func attributes(
        _ field: UInt64, _ attributes: SpanAttributes, recorded: [(key: String, value: TraceValue)] = [],
        fixed: FixedAttributes? = nil, droppedField: UInt64
    ) {
        fixed?.visit { key, value in keyValue(field, key, value) }
        let (kept, dropped) = limited(recorded, attributes, fixed: fixed)
        for (key, value) in kept { keyValue(field, key, value) }
        uint(droppedField, UInt64(dropped))
    }

    /// `Span`.
    mutating func span(_ span: SpanHeader, _ state: borrowing TracedSpan.State) {
        id(1, span.identity.traceID)
        id(2, span.identity.spanID)
        if let traceState = span.identity.traceState { string(3, traceState) }
        if let parent = span.parentSpanID { id(4, parent) }
        if case .server(let server) = state.fixed, let route = server.route {
            // `method route`, without building the string.
            tag(5, .lengthDelimited)
            varint(UInt64(server.method.utf8.count + 1 + route.utf8.count))
            bytes.append(contentsOf: server.method.utf8)
            bytes.append(UInt8(ascii: " "))
            bytes.append(contentsOf: route.utf8)
        } else {
            string(5, state.name)
        }
        uint(6, span.kind.otlpValue)
        fixed64(7, span.startNanoseconds)
        fixed64(8, state.endNanoseconds ?? span.startNanoseconds)
        attributes(9, state.attributes, recorded: state.recorded, fixed: state.fixed, droppedField: 10)
        for event in state.events {
            message(11) { eventWriter in
                eventWriter.fixed64(1, event.nanosecondsSinceEpoch)
                eventWriter.string(2, event.name)
                eventWriter.attributes(3, event.attributes, droppedField: 4)
            }
        }
        for link in state.links {
            guard let identity = SpanIdentity(link.context) else { continue }
            message(13) { linkWriter in
                linkWriter.id(1, identity.traceID)
                linkWriter.id(2, identity.spanID)
                if let state = identity.traceState { linkWriter.string(3, state) }
                linkWriter.attributes(4, link.attributes, droppedField: 5)
                linkWriter.fixed32(6, identity.sampled ? 1 : 0)
            }
        }
        if let status = state.status {
            message(15) { statusWriter in
                if status.code == .error, let message = status.message { statusWriter.string(2, message) }
                statusWriter.uint(3, status.code.otlpValue)
            }
        }
        fixed32(16, span.identity.sampled ? 1 : 0)
    }
}

/// OTLP/JSON: protobuf's JSON mapping with OTLP's exceptions (ids in hexadecimal, enums as numbers).
struct JSONWriter {
    var bytes: [UInt8] = []

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ text: String) {
        JSONText.appendString(text, to: &bytes)
    }

    /// A 64-bit integer, as a string (protobuf's JSON mapping of int64 and fixed64).
    private mutating func integer(_ value: some BinaryInteger) {
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: String(value).utf8)
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func value(_ value: TraceValue) {
        switch value {
        case .string(let text):
            raw(#"{"stringValue":"#)
            string(text)
        case .bool(let flag):
            raw(#"{"boolValue":"#)
            flag ? raw("true") : raw("false")
        case .int(let number):
            raw(#"{"intValue":"#)
            integer(number)
        case .double(let number):
            raw(#"{"doubleValue":"#)
            if number.isNaN {
                raw(#""NaN""#)
            } else if number.isInfinite {
                number < 0 ? raw(#""-Infinity""#) : raw(#""Infinity""#)
            } else {
                bytes.append(contentsOf: "\(number)".utf8)
            }
        case .array(let values):
            raw(#"{"arrayValue":{"values":["#)
            for (index, element) in values.enumerated() {
                if index > 0 { raw(",") }
                self.value(element)
            }
            raw("]}")
        }
        raw("}")
    }

    fileprivate mutating func keyValue(_ key: String, _ value: TraceValue) {
        raw(#"{"key":"#)
        string(key)
        raw(#","value":"#)
        self.value(value)
        raw("}")
    }

    private mutating func attributes(
        _ attributes: SpanAttributes, recorded: [(key: String, value: TraceValue)] = [], fixed: FixedAttributes? = nil
    ) {
        let (kept, dropped) = limited(recorded, attributes, fixed: fixed)
        raw(#""attributes":["#)
        var first = true
        fixed?.visit { key, value in
            if !first { raw(",") }
            first = false
            keyValue(key, value)
        }
        for (key, value) in kept {
            if !first { raw(",") }
            first = false
            keyValue(key, value)
        }
        raw("]")
        if dropped > 0 {
            raw(#","droppedAttributesCount":"#)
            bytes.append(contentsOf: String(dropped).utf8)
        }
    }

    mutating func span(_ span: SpanHeader, _ state: borrowing TracedSpan.State) {
        raw(#"{"traceId":""#)
        bytes.append(contentsOf: span.identity.traceID.description.utf8)
        raw(#"","spanId":""#)
        bytes.append(contentsOf: span.identity.spanID.description.utf8)
        raw(#"""#)
        if let traceState = span.identity.traceState {
            raw(#","traceState":"#)
            string(traceState)
        }
        if let parent = span.parentSpanID {
            raw(#","parentSpanId":""#)
            bytes.append(contentsOf: parent.description.utf8)
            raw(#"""#)
        }
        raw(#","name":"#)
        string(state.exportedName)
        raw(#","kind":"#)
        bytes.append(contentsOf: String(span.kind.otlpValue).utf8)
        raw(#","startTimeUnixNano":"#)
        integer(span.startNanoseconds)
        raw(#","endTimeUnixNano":"#)
        integer(state.endNanoseconds ?? span.startNanoseconds)
        raw(",")
        attributes(state.attributes, recorded: state.recorded, fixed: state.fixed)
        if !state.events.isEmpty {
            raw(#","events":["#)
            for (index, event) in state.events.enumerated() {
                if index > 0 { raw(",") }
                raw(#"{"timeUnixNano":"#)
                integer(event.nanosecondsSinceEpoch)
                raw(#","name":"#)
                string(event.name)
                raw(",")
                attributes(event.attributes)
                raw("}")
            }
            raw("]")
        }
        let links = state.links.compactMap { link in SpanIdentity(link.context).map { (identity: $0, attributes: link.attributes) } }
        if !links.isEmpty {
            raw(#","links":["#)
            for (index, link) in links.enumerated() {
                if index > 0 { raw(",") }
                raw(#"{"traceId":""#)
                bytes.append(contentsOf: link.identity.traceID.description.utf8)
                raw(#"","spanId":""#)
                bytes.append(contentsOf: link.identity.spanID.description.utf8)
                raw(#"","#)
                attributes(link.attributes)
                raw("}")
            }
            raw("]")
        }
        if let status = state.status {
            raw(#","status":{"code":"#)
            bytes.append(contentsOf: String(status.code.otlpValue).utf8)
            if status.code == .error, let message = status.message {
                raw(#","message":"#)
                string(message)
            }
            raw("}")
        }
        raw(#","flags":"#)
        bytes.append(span.identity.sampled ? UInt8(ascii: "1") : UInt8(ascii: "0"))
        raw("}")
    }
}
