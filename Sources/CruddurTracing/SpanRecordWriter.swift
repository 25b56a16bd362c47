import Tracing

/// The usual span (no events, links or array values) in protobuf, written straight into memory reserved for it: its
/// size is bounded first, then each field is a store, with none of an array's checks per byte. Spans it does not
/// take go through ``ProtobufWriter``.
struct SpanRecordWriter {
    private let storage: UnsafeMutablePointer<UInt8>
    private var count = 0

    private init(storage: UnsafeMutablePointer<UInt8>) {
        self.storage = storage
    }

    /// Gives `body` the bytes of `span` as a `ScopeSpans.spans` field (tag, length, the span), written in memory on
    /// the stack; false, without calling `body`, for a span this writer does not take.
    static func withFramedSpan(
        _ span: SpanHeader, _ state: borrowing TracedSpan.State, _ body: (UnsafeRawBufferPointer) -> Void
    ) -> Bool {
        guard state.events.isEmpty, state.links.isEmpty else { return false }
        let (kept, dropped) = limited(state.recorded, state.attributes, fixed: state.fixed)
        var bound = 160 + (span.identity.traceState?.utf8.count ?? 0) + state.name.utf8.count + (state.status?.message?.utf8.count ?? 0)
        var simple = true
        state.fixed?.visit { key, value in
            guard let size = ProtobufWriter.valueSize(value) else {
                simple = false
                return
            }
            bound += key.utf8.count + size + 16
        }
        for (key, value) in kept {
            guard let size = ProtobufWriter.valueSize(value) else { return false }
            bound += key.utf8.count + size + 16
        }
        guard simple else { return false }
        if case .server(let server) = state.fixed, let route = server.route { bound += server.method.utf8.count + route.utf8.count + 1 }
        // The span goes after room for its field's tag and length (at most 6 bytes), which are then written just
        // before it.
        let headerRoom = 6
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: headerRoom + bound) { buffer in
            let spanStart = buffer.baseAddress! + headerRoom
            var writer = SpanRecordWriter(storage: spanStart)
            writer.write(span, state, kept: kept, dropped: dropped)
            precondition(writer.count <= bound, "a span outgrew its bound")
            let lengthSize = ProtobufWriter.varintSize(UInt64(writer.count))
            let start = spanStart - 1 - lengthSize
            start[0] = 0x12 // ScopeSpans.spans (field 2, length-delimited)
            var length = UInt64(writer.count)
            for index in 1...lengthSize {
                start[index] = UInt8(truncatingIfNeeded: length) | (index < lengthSize ? 0x80 : 0)
                length >>= 7
            }
            body(UnsafeRawBufferPointer(start: start, count: 1 + lengthSize + writer.count))
        }
        return true
    }

    private mutating func write(
        _ span: SpanHeader, _ state: borrowing TracedSpan.State, kept: [(key: String, value: TraceValue)], dropped: Int
    ) {
        tag(1, 2)
        byte(16)
        word(span.identity.traceID.high.bigEndian)
        word(span.identity.traceID.low.bigEndian)
        identifier(2, span.identity.spanID)
        if let traceState = span.identity.traceState { string(3, traceState) }
        if let parent = span.parentSpanID { identifier(4, parent) }
        if case .server(let server) = state.fixed, let route = server.route {
            // `method route`, without building the string.
            tag(5, 2)
            varint(UInt64(server.method.utf8.count + 1 + route.utf8.count))
            utf8(server.method)
            byte(UInt8(ascii: " "))
            utf8(route)
        } else {
            string(5, state.name)
        }
        tag(6, 0)
        varint(span.kind.otlpValue)
        fixed64(7, span.startNanoseconds)
        fixed64(8, state.endNanoseconds ?? span.startNanoseconds)
        state.fixed?.visit { key, value in keyValue(key, value) }
        for (key, value) in kept { keyValue(key, value) }
        if dropped > 0 {
            tag(10, 0)
            varint(UInt64(dropped))
        }
        if let status = state.status {
            let message = status.code == .error ? status.message : nil
            let messageSize = message.map { 1 + ProtobufWriter.varintSize(UInt64($0.utf8.count)) + $0.utf8.count } ?? 0
            tag(15, 2)
            varint(UInt64(messageSize + 2))
            if let message { string(2, message) }
            tag(3, 0)
            varint(status.code.otlpValue)
        }
        tag(16, 5)
        let flags = UInt32(span.identity.sampled ? 1 : 0).littleEndian
        withUnsafeBytes(of: flags) { raw in
            for value in raw { byte(value) }
        }
    }

    private mutating func byte(_ value: UInt8) {
        storage[count] = value
        count += 1
    }

    private mutating func tag(_ field: UInt64, _ wireType: UInt64) {
        varint(field << 3 | wireType)
    }

    private mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            byte(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        byte(UInt8(value))
    }

    private mutating func word(_ value: UInt64) {
        UnsafeMutableRawPointer(storage + count).storeBytes(of: value, as: UInt64.self)
        count += 8
    }

    private mutating func fixed64(_ field: UInt64, _ value: UInt64) {
        tag(field, 1)
        word(value.littleEndian)
    }

    /// A span id, big-endian, as W3C writes it.
    private mutating func identifier(_ field: UInt64, _ id: SpanID) {
        tag(field, 2)
        byte(8)
        word(id.value.bigEndian)
    }

    private mutating func utf8(_ text: String) {
        let copied = text.utf8.withContiguousStorageIfAvailable { buffer in
            (storage + count).update(from: buffer.baseAddress!, count: buffer.count)
            count += buffer.count
        }
        if copied == nil {
            for value in text.utf8 { byte(value) }
        }
    }

    private mutating func string(_ field: UInt64, _ text: String) {
        tag(field, 2)
        varint(UInt64(text.utf8.count))
        utf8(text)
    }

    /// `Span.attributes`: a `KeyValue` with its `AnyValue`, lengths computed first.
    private mutating func keyValue(_ key: String, _ value: TraceValue) {
        guard let valueSize = ProtobufWriter.valueSize(value) else { return }
        let keyCount = key.utf8.count
        tag(9, 2)
        varint(UInt64(1 + ProtobufWriter.varintSize(UInt64(keyCount)) + keyCount + 1 + ProtobufWriter.varintSize(UInt64(valueSize)) + valueSize))
        string(1, key)
        tag(2, 2)
        varint(UInt64(valueSize))
        switch value {
        case .string(let text): string(1, text)
        case .bool(let flag):
            tag(2, 0)
            byte(flag ? 1 : 0)
        case .int(let number):
            tag(3, 0)
            varint(UInt64(bitPattern: number))
        case .double(let number): fixed64(4, number.bitPattern)
        case .array: break
        }
    }
}
