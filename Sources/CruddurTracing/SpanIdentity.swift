import Tracing

/// A span's W3C identity, kept in its `ServiceContext`: its trace and span ids, whether it is sampled (only sampled
/// spans are exported) and the caller's `tracestate`. Nil for a context no span of ours has touched.
public struct SpanIdentity: Sendable, Equatable {
    public let traceID: TraceID
    public let spanID: SpanID
    public let sampled: Bool
    /// The caller's `tracestate`, passed on unchanged.
    public let traceState: String?
    /// Whether it came from a caller's `traceparent` rather than a span of this process.
    public let isRemote: Bool

    public init(traceID: TraceID, spanID: SpanID, sampled: Bool, traceState: String? = nil, isRemote: Bool = false) {
        self.traceID = traceID
        self.spanID = spanID
        self.sampled = sampled
        self.traceState = traceState
        self.isRemote = isRemote
    }

    public init?(_ context: ServiceContext) {
        guard let span = context.tracedSpan else { return nil }
        self = span.identity
    }

    /// `traceparent`: version 00, the ids, and the sampled flag.
    public var traceParent: String { "00-\(traceID)-\(spanID)-\(sampled ? "01" : "00")" }

    /// A caller's `traceparent` (and `tracestate`), as W3C Trace Context defines them; nil when malformed, in which
    /// case the request starts a trace of its own.
    public init?(traceParent: String, traceState: String?) {
        let bytes = Array(traceParent.utf8)
        // version "-" trace-id "-" parent-id "-" flags; later versions may append "-" and more.
        guard bytes.count >= 55, bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-"),
            let version = Hex.byte(bytes[0], bytes[1]), version != 0xFF,
            version == 0 ? bytes.count == 55 : (bytes.count == 55 || bytes[55] == UInt8(ascii: "-")),
            let high = Hex.word(bytes[3..<19]), let low = Hex.word(bytes[19..<35]), let traceID = TraceID(high: high, low: low),
            let span = Hex.word(bytes[36..<52]), let spanID = SpanID(span), let flags = Hex.byte(bytes[53], bytes[54])
        else { return nil }
        // tracestate is passed on only when it is plausible: printable ASCII within W3C's 512 characters.
        let state = traceState.flatMap { value in
            value.utf8.count <= 512 && value.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) && !value.isEmpty ? value : nil
        }
        self.init(traceID: traceID, spanID: spanID, sampled: flags & 1 == 1, traceState: state, isRemote: true)
    }
}

extension Hex {
    static func byte(_ high: UInt8, _ low: UInt8) -> UInt8? {
        guard let high = nibble(high), let low = nibble(low) else { return nil }
        return high << 4 | low
    }
}
