import Tracing

/// A span's W3C identity, read through the process's propagator: its trace id (for log lines) and whether it is
/// sampled (only sampled spans are exported). Nil when no tracer is installed.
public struct SpanIdentity: Sendable, Equatable {
    /// 32 lowercase hexadecimal digits.
    public let traceID: String
    public let sampled: Bool

    public init?(_ context: ServiceContext) {
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryInjector())
        // traceparent: version-traceid-spanid-flags; bit 0 of the flags is "sampled".
        guard let parts = carrier["traceparent"]?.split(separator: "-"), parts.count == 4, parts[1].count == 32,
            let flags = UInt8(parts[3], radix: 16)
        else { return nil }
        traceID = String(parts[1])
        sampled = flags & 1 == 1
    }
}

private struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}
